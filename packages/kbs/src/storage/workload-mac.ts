/**
 * Workload versions are the one table that decides security (which launches get which secrets)
 * and is not sealed: a definition must stay readable to operators and queries. So each row
 * carries an HMAC-SHA-256 under a key derived from the master key (HKDF-SHA-256, its own label),
 * over the fields that decide: name, version, definition, and the deletion mark. Whoever can
 * write the database but lacks the master key cannot forge, alter, rename, renumber or undelete
 * a workload (a delete adds an authenticated tombstone as the newest version, so a row written
 * back with its MAC from before the delete stays hidden: `workload-store.ts`); they can still
 * remove rows (a newest version gone makes the previous one current, which an operator once
 * accepted; a tombstone gone, likewise, the version before the delete) or deny service. See
 * docs/production.md.
 *
 * MAC input: the UTF-8 of `JSON.stringify([label, name, version, definition, deletedAt])`,
 * unambiguous since every field is a JSON string, number or null. Stored as lowercase hex.
 *
 * Rows written before the column existed (migration `002-workload-mac`) have no MAC and are
 * refused: the migration has no key, and blessing them when the store opens would bless rows
 * changed meanwhile. The operator puts the workload again (a new, authenticated version).
 *
 * @module
 */
import { createHmac, hkdfSync } from 'node:crypto'
import { VerificationError, constantTimeEqual, stringToUtf8 } from '@initguard/core'

const LABEL = 'initguard-kbs workload-version mac v1'

/** The code of a row that does not authenticate. */
export const WORKLOAD_INTEGRITY = 'ERR_KBS_WORKLOAD_INTEGRITY'

/** The fields a workload version's MAC covers. */
export interface WorkloadMacFields {
  readonly name: string
  readonly version: number
  /** The definition's JSON text, as stored. */
  readonly definition: string
  readonly deleted_at: string | null
}

/** Computes and checks workload version MACs under one master key. */
export class WorkloadMac {
  readonly #key: Uint8Array

  constructor(masterKey: Uint8Array) {
    this.#key = new Uint8Array(hkdfSync('sha256', masterKey, new Uint8Array(0), LABEL, 32))
  }

  /** The MAC of `row`, hex. */
  of(row: WorkloadMacFields): string {
    return createHmac('sha256', this.#key)
      .update(
        stringToUtf8(
          JSON.stringify([LABEL, row.name, row.version, row.definition, row.deleted_at]),
        ),
      )
      .digest('hex')
  }

  /** Whether `row`'s stored MAC is present and right. */
  authenticates(row: WorkloadMacFields & { readonly mac: string | null }): boolean {
    return row.mac !== null && constantTimeEqual(stringToUtf8(row.mac), stringToUtf8(this.of(row)))
  }

  /**
   * Check `row`'s stored MAC.
   *
   * @throws {@link VerificationError} `ERR_KBS_WORKLOAD_INTEGRITY` when it is missing or wrong.
   */
  check(row: WorkloadMacFields & { readonly mac: string | null }): void {
    if (this.authenticates(row)) return
    const what = `workload ${row.name} v${String(row.version)}`
    throw new VerificationError(
      WORKLOAD_INTEGRITY,
      row.mac === null
        ? `the stored ${what} has no MAC (written before this version of the KBS, or inserted behind its back): it is not used`
        : `the stored ${what} does not authenticate: it was changed outside the KBS, and is not used`,
      {
        details: { workload: row.name, version: row.version },
        hint:
          row.mac === null
            ? `check the definition, then put it again (initguard kbs admin … workload put --name ${row.name} …): the new version is authenticated`
            : 'find out who changed the database; restore it from a backup or put the workload again',
      },
    )
  }
}

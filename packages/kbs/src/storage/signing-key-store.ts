/**
 * Token-signing keys: the private JWK sealed under the master key, the kid in the AAD; the
 * metadata (kid, public key, creation and retirement times) under a MAC (`signing-key-mac.ts`).
 * A row whose MAC is missing or wrong is left out of {@link SqlSigningKeyStore.list}, so it
 * neither signs nor verifies, and is reported once per store (a process warning, code
 * `ERR_KBS_SIGNING_KEY_INTEGRITY`): the replica goes on, with a new key if no usable one is left.
 *
 * @module
 */
import { sql, type Compilable, type Kysely, type OperationNodeSource } from 'kysely'
import { InternalError, UsageError, stringToUtf8, utf8ToString } from '@initguard/core'
import type { AuditEntryInput, SigningKeyRecord, SigningKeyStore } from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import type { Envelope } from './envelope.ts'
import { HotStatement, param, type RawExecutor } from './hot-statement.ts'
import type { KbsDatabase, SigningKeyTable } from './schema.ts'
import type { SigningKeyMac } from './signing-key-mac.ts'

/** The code of the warning for a key row that does not authenticate. */
export const SIGNING_KEY_INTEGRITY = 'ERR_KBS_SIGNING_KEY_INTEGRITY'

/** A stored row, opened and checked. */
interface CheckedRow {
  readonly row: SigningKeyTable
  readonly privateJwk: Readonly<Record<string, unknown>>
  readonly x: string
  readonly y: string
  readonly authentic: boolean
}

/** {@link SigningKeyStore} over kysely. */
export class SqlSigningKeyStore implements SigningKeyStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #envelope: Envelope
  readonly #mac: SigningKeyMac
  /** Rows already reported as not authenticating (kid, MAC), so each is warned of once. */
  readonly #reported = new Set<string>()
  /** Add a key, retire the others, append the entry when given (arguments: key's, entry's). */
  readonly #rotate: KeyWrite
  /** Add a key, delete the keys named, append the entry when given (arguments as `#rotate`'s). */
  readonly #revoke: KeyWrite

  constructor(
    db: Kysely<KbsDatabase>,
    envelope: Envelope,
    executor: RawExecutor,
    mac: SigningKeyMac,
  ) {
    this.#db = db
    this.#envelope = envelope
    this.#mac = mac
    this.#rotate = rotateAudited(db, executor)
    this.#revoke = revokeAudited(db, executor)
  }

  /** The keys whose MAC authenticates; the others are reported (once) and left out. */
  async list(): Promise<readonly SigningKeyRecord[]> {
    const records: SigningKeyRecord[] = []
    for (const checked of await this.#checkedRows()) {
      const { row } = checked
      if (!checked.authentic) {
        this.#report(row)
        continue
      }
      records.push({
        kid: row.kid,
        privateJwk: checked.privateJwk,
        createdAt: new Date(row.created_at),
        ...(row.retired_at === null ? {} : { retiredAt: new Date(row.retired_at) }),
      })
    }
    return records
  }

  async #checkedRows(): Promise<readonly CheckedRow[]> {
    const rows = await this.#db
      .selectFrom('signing_key')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute()
    return rows.map((row) => {
      const json = utf8ToString(
        // A row that does not open is the operator's problem (500), not the guest's (401).
        this.#envelope.openStored({ kind: 'signing-key', id: row.kid }, row.sealed),
      )
      const privateJwk: unknown = JSON.parse(json)
      if (typeof privateJwk !== 'object' || privateJwk === null || Array.isArray(privateJwk)) {
        throw new InternalError(
          'ERR_KBS_SIGNING_KEY_STORED',
          `the stored signing key ${row.kid} is not a JWK object`,
        )
      }
      const { x, y } = privateJwk as Record<string, unknown>
      const coordinates = { x: typeof x === 'string' ? x : '', y: typeof y === 'string' ? y : '' }
      return {
        row,
        privateJwk: privateJwk as Readonly<Record<string, unknown>>,
        ...coordinates,
        authentic: this.#mac.authenticates({ ...row, ...coordinates }, row.mac),
      }
    })
  }

  #report(row: SigningKeyTable): void {
    const seen = `${row.kid} ${String(row.mac)}`
    if (this.#reported.has(seen)) return
    this.#reported.add(seen)
    process.emitWarning(
      row.mac === null
        ? `the stored signing key ${row.kid} has no MAC (written before this version of the KBS, or inserted behind its back): it neither signs nor verifies; the KBS makes a new key when no usable one is left`
        : `the stored signing key ${row.kid} does not authenticate (its kid, public key, created_at or retired_at was changed outside the KBS): it neither signs nor verifies; find out who changed the database`,
      { code: SIGNING_KEY_INTEGRITY },
    )
  }

  async add(key: Omit<SigningKeyRecord, 'retiredAt'>): Promise<void> {
    await this.#db.insertInto('signing_key').values(this.#row(key)).execute()
  }

  /**
   * One write: the key, the other active keys' retirement, and `changed` when given. Each key
   * retired gets its MAC for the new `retired_at` in the same statement, computed beforehand from
   * the row as read (its MAC must still be the one read, else it is left without a MAC: unusable,
   * which is where a row changed in between belongs).
   */
  async rotate(key: Omit<SigningKeyRecord, 'retiredAt'>, changed?: AuditEntryInput): Promise<void> {
    const row = this.#row(key)
    const retirements = (await this.#checkedRows())
      .filter((checked) => checked.authentic && checked.row.retired_at === null)
      .map(({ row: active, x, y }) => ({
        kid: active.kid,
        old: active.mac,
        mac: this.#mac.of({ ...active, x, y, retired_at: row.created_at }),
      }))
    await this.#rotate(
      [row.kid, row.sealed, row.created_at, row.mac, JSON.stringify(retirements)],
      changed === undefined ? undefined : auditValues(changed),
    )
  }

  /**
   * One write: the key, the deletion of every other key read just before (authenticated or not,
   * active or retired: a leaked key must not verify a token for one more second, and its sealed
   * private key is of no further use), and `changed` naming them. A key another replica adds
   * between the read and the write is not among them: it is new, so not the one that leaked.
   */
  async rotateRevoking(
    key: Omit<SigningKeyRecord, 'retiredAt'>,
    changed?: (revoked: readonly string[]) => AuditEntryInput,
  ): Promise<readonly string[]> {
    const row = this.#row(key)
    const revoked = (await this.#db.selectFrom('signing_key').select('kid').execute())
      .map(({ kid }) => kid)
      .filter((kid) => kid !== row.kid)
      .sort()
    await this.#revoke(
      [row.kid, row.sealed, row.created_at, row.mac, JSON.stringify(revoked)],
      changed === undefined ? undefined : auditValues(changed(revoked)),
    )
    return revoked
  }

  #row(key: Omit<SigningKeyRecord, 'retiredAt'>) {
    const sealed = this.#envelope.seal(
      { kind: 'signing-key', id: key.kid },
      stringToUtf8(JSON.stringify(key.privateJwk)),
    )
    const { x, y } = key.privateJwk
    const fields = {
      kid: key.kid,
      created_at: key.createdAt.toISOString(),
      retired_at: null,
    }
    const mac = this.#mac.of({
      ...fields,
      x: typeof x === 'string' ? x : '',
      y: typeof y === 'string' ? y : '',
    })
    return { ...fields, sealed, mac }
  }

  /**
   * Idempotent for a key already retired (its first retirement time is kept).
   *
   * @throws {@link UsageError} `ERR_KBS_SIGNING_KEY_UNKNOWN` when no such key is stored.
   */
  async retire(kid: string, at: Date): Promise<void> {
    const checked = (await this.#checkedRows()).find((candidate) => candidate.row.kid === kid)
    if (checked === undefined) {
      throw new UsageError(
        'ERR_KBS_SIGNING_KEY_UNKNOWN',
        `there is no signing key ${kid} to retire`,
        {
          hint: 'list the keys (jwks) and retire one of those',
        },
      )
    }
    const { row, x, y } = checked
    if (row.retired_at !== null) return
    const retiredAt = at.toISOString()
    // A row that does not authenticate loses its MAC: were the rest put back as it was, the key
    // the operator retired would not be active again. One changed since it was read (its MAC is
    // no longer the one read) is left as it is.
    await this.#db
      .updateTable('signing_key')
      .set({
        retired_at: retiredAt,
        mac: checked.authentic ? this.#mac.of({ ...row, x, y, retired_at: retiredAt }) : null,
      })
      .where('kid', '=', kid)
      .where('retired_at', 'is', null)
      .where((eb) => (row.mac === null ? eb('mac', 'is', null) : eb('mac', '=', row.mac)))
      .execute()
  }

  async purge(before: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('signing_key')
      .where('retired_at', 'is not', null)
      .where('retired_at', '<', before.toISOString())
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

/**
 * How many arguments a rotation's key takes (kid, sealed, created_at, mac, and the retirements:
 * a JSON array of `{ kid, old, mac }`, each active key's MAC as read and its MAC once retired)
 * before the entry's.
 */
const ROTATE_ARGUMENTS = 5

/** The statement that a rotation runs on the keys other than the new one (argument 0). */
type OtherKeys = Compilable & OperationNodeSource

/**
 * A rotation as one write: insert the new key, retire every other active key at its creation
 * time, and append the audit entry when there is one.
 */
function rotateAudited(db: Kysely<KbsDatabase>, executor: RawExecutor): KeyWrite {
  // Each other active key is retired with the MAC the retirements name for it, when its MAC is
  // still the one read; any other (made or changed since, or not authenticating) gets none.
  const retiredMac =
    executor.atomic === undefined
      ? sql<
          string | null
        >`(SELECT r.mac FROM json_to_recordset(${param(4)}::json) AS r(kid text, old text, mac text)
          WHERE r.kid = signing_key.kid AND r.old = signing_key.mac)`
      : sql<string | null>`(SELECT json_extract(r.value, '$.mac') FROM json_each(${param(4)}) AS r
          WHERE json_extract(r.value, '$.kid') = signing_key.kid
          AND json_extract(r.value, '$.old') = signing_key.mac)`
  const retire = db
    .updateTable('signing_key')
    .set({ retired_at: param(2), mac: retiredMac })
    .where('retired_at', 'is', null)
    .where('kid', '<>', param(0))
  return keyWrite(db, executor, retire)
}

/**
 * A revoking rotation as one write: insert the new key, delete the kids of argument 4 (a JSON
 * array of strings), and append the audit entry when there is one.
 */
function revokeAudited(db: Kysely<KbsDatabase>, executor: RawExecutor): KeyWrite {
  const named =
    executor.atomic === undefined
      ? sql<string>`(SELECT json_array_elements_text(${param(4)}::json))`
      : sql<string>`(SELECT value FROM json_each(${param(4)}))`
  const revoke = db.deleteFrom('signing_key').where('kid', 'in', named).where('kid', '<>', param(0))
  return keyWrite(db, executor, revoke)
}

/** Runs a key write with the key's arguments and, when given, the entry's. */
type KeyWrite = (key: readonly unknown[], changed: readonly unknown[] | undefined) => Promise<void>

/**
 * Insert the new key, run `others` on the other keys, append the audit entry when there is one,
 * as one write. PostgreSQL: one data-modifying `WITH` (`others` sees the snapshot before the
 * INSERT, so the new key is never retired nor deleted); SQLite: the statements in one IMMEDIATE
 * transaction. A failing append fails the whole write, so a key is never made, retired or revoked
 * without the entry the admin route asked for.
 */
function keyWrite(db: Kysely<KbsDatabase>, executor: RawExecutor, others: OtherKeys): KeyWrite {
  const insert = db.insertInto('signing_key').values({
    kid: param(0),
    sealed: param(1),
    created_at: param(2),
    retired_at: null,
    mac: param(3),
  })
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = (audited: boolean) =>
      new HotStatement(
        executor,
        compilable(
          db,
          audited
            ? sql`WITH added AS (${insert.returning('kid')}), changed AS (${others})
                ${auditInsertFrom('added', ROTATE_ARGUMENTS)}`
            : sql`WITH added AS (${insert}) ${others}`,
        ),
      )
    const plain = joined(false)
    const audited = joined(true)
    return async (key, changed) => {
      await (changed === undefined ? plain.affected(...key) : audited.affected(...key, ...changed))
    }
  }
  const add = new HotStatement(executor, insert)
  const onOthers = new HotStatement(executor, others)
  const append = new HotStatement(executor, auditInsert(db))
  return (key, changed) =>
    atomic.run((execute) => {
      add.affectedWith(execute, ...key)
      onOthers.affectedWith(execute, ...key)
      if (changed !== undefined) append.affectedWith(execute, ...changed)
    })
}

/**
 * Token-signing keys: the private JWK sealed under the master key, the kid in the AAD.
 *
 * @module
 */
import { sql, type Kysely } from 'kysely'
import { InternalError, UsageError, stringToUtf8, utf8ToString } from '@initguard/core'
import type { AuditEntryInput, SigningKeyRecord, SigningKeyStore } from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import type { Envelope } from './envelope.ts'
import { HotStatement, param, type RawExecutor } from './hot-statement.ts'
import type { KbsDatabase } from './schema.ts'

/** {@link SigningKeyStore} over kysely. */
export class SqlSigningKeyStore implements SigningKeyStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #envelope: Envelope
  /** Add a key, retire the others, append the entry when given (arguments: key's, entry's). */
  readonly #rotate: (
    key: readonly unknown[],
    changed: readonly unknown[] | undefined,
  ) => Promise<void>

  constructor(db: Kysely<KbsDatabase>, envelope: Envelope, executor: RawExecutor) {
    this.#db = db
    this.#envelope = envelope
    this.#rotate = rotateAudited(db, executor)
  }

  async list(): Promise<readonly SigningKeyRecord[]> {
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
      return {
        kid: row.kid,
        privateJwk: privateJwk as Readonly<Record<string, unknown>>,
        createdAt: new Date(row.created_at),
        ...(row.retired_at === null ? {} : { retiredAt: new Date(row.retired_at) }),
      }
    })
  }

  async add(key: Omit<SigningKeyRecord, 'retiredAt'>): Promise<void> {
    await this.#db.insertInto('signing_key').values(this.#row(key)).execute()
  }

  /** One write: the key, the other active keys' retirement, and `changed` when given. */
  async rotate(key: Omit<SigningKeyRecord, 'retiredAt'>, changed?: AuditEntryInput): Promise<void> {
    const row = this.#row(key)
    await this.#rotate(
      [row.kid, row.sealed, row.created_at],
      changed === undefined ? undefined : auditValues(changed),
    )
  }

  #row(key: Omit<SigningKeyRecord, 'retiredAt'>) {
    const sealed = this.#envelope.seal(
      { kind: 'signing-key', id: key.kid },
      stringToUtf8(JSON.stringify(key.privateJwk)),
    )
    return { kid: key.kid, sealed, created_at: key.createdAt.toISOString(), retired_at: null }
  }

  /**
   * Idempotent for a key already retired (its first retirement time is kept).
   *
   * @throws {@link UsageError} `ERR_KBS_SIGNING_KEY_UNKNOWN` when no such key is stored.
   */
  async retire(kid: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('signing_key')
      .set({ retired_at: at.toISOString() })
      .where('kid', '=', kid)
      .where('retired_at', 'is', null)
      .execute()
    const row = await this.#db
      .selectFrom('signing_key')
      .select('kid')
      .where('kid', '=', kid)
      .executeTakeFirst()
    if (row === undefined) {
      throw new UsageError(
        'ERR_KBS_SIGNING_KEY_UNKNOWN',
        `there is no signing key ${kid} to retire`,
        {
          hint: 'list the keys (jwks) and retire one of those',
        },
      )
    }
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

/** How many arguments a rotation's key takes (kid, sealed, created_at) before the entry's. */
const ROTATE_ARGUMENTS = 3

/**
 * A rotation as one write: insert the new key, retire every other active key at its creation
 * time, and append the audit entry when there is one. PostgreSQL: one data-modifying `WITH` (the
 * UPDATE sees the snapshot before the INSERT, so the new key is never retired); SQLite: the
 * statements in one IMMEDIATE transaction. A failing append fails the whole rotation, so a key is
 * never made or retired without the entry the admin route asked for.
 */
function rotateAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
): (key: readonly unknown[], changed: readonly unknown[] | undefined) => Promise<void> {
  const insert = db
    .insertInto('signing_key')
    .values({ kid: param(0), sealed: param(1), created_at: param(2), retired_at: null })
  const retire = db
    .updateTable('signing_key')
    .set({ retired_at: param(2) })
    .where('retired_at', 'is', null)
    .where('kid', '<>', param(0))
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = (audited: boolean) =>
      new HotStatement(
        executor,
        compilable(
          db,
          audited
            ? sql`WITH added AS (${insert.returning('kid')}), retired AS (${retire})
                ${auditInsertFrom('added', ROTATE_ARGUMENTS)}`
            : sql`WITH added AS (${insert}) ${retire}`,
        ),
      )
    const plain = joined(false)
    const audited = joined(true)
    return async (key, changed) => {
      await (changed === undefined ? plain.affected(...key) : audited.affected(...key, ...changed))
    }
  }
  const add = new HotStatement(executor, insert)
  const retireOthers = new HotStatement(executor, retire)
  const append = new HotStatement(executor, auditInsert(db))
  return (key, changed) =>
    atomic.run((execute) => {
      add.affectedWith(execute, ...key)
      retireOthers.affectedWith(execute, ...key)
      if (changed !== undefined) append.affectedWith(execute, ...changed)
    })
}

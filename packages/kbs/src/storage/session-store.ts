/**
 * RCAR sessions shared by every replica on the database. The challenge is consumed by one
 * conditional UPDATE … RETURNING, so of two concurrent `/attest` calls on one session exactly one
 * gets it, whichever process they run in.
 *
 * @module
 */
import { sql, type Kysely, type Selectable } from 'kysely'
import { InternalError } from '@initguard/core'
import type { KbsTee } from '@initguard/kbs-protocol'
import type { AuditEntryInput, SessionRecord, SessionStore } from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import { HotStatement, param } from './hot-statement.ts'
import type { RawExecutor } from './hot-statement.ts'
import type { KbsDatabase, RcarSessionTable } from './schema.ts'

/** Named, not `*`: a prepared statement's result must not change when a migration adds a column. */
const SESSION_COLUMNS = ['id', 'tee', 'nonce', 'expires_at', 'state', 'token'] as const

/** {@link SessionStore} over kysely; the per-handshake queries run prepared (`hot-statement.ts`). */
export class SqlSessionStore implements SessionStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #create: HotStatement<unknown>
  readonly #get: HotStatement<Selectable<RcarSessionTable>>
  readonly #consume: HotStatement<Selectable<RcarSessionTable>>
  /** The token and the audit entry (arguments id, token, then the entry's): how many appended. */
  readonly #markAttested: (args: readonly unknown[]) => Promise<number>

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor) {
    this.#db = db
    this.#create = new HotStatement(
      executor,
      db
        .insertInto('rcar_session')
        .values({
          id: param(0),
          tee: param(1),
          nonce: param(2),
          expires_at: param(3),
          state: 'authed',
          token: null,
        })
        .onConflict((conflict) => conflict.column('id').doNothing()),
    )
    this.#get = new HotStatement(
      executor,
      db.selectFrom('rcar_session').select(SESSION_COLUMNS).where('id', '=', param(0)),
    )
    this.#consume = new HotStatement(
      executor,
      db
        .updateTable('rcar_session')
        .set({ state: 'consumed' })
        .where('id', '=', param(0))
        .where('state', '=', 'authed')
        .where('expires_at', '>', param(1))
        .returning(SESSION_COLUMNS),
    )
    this.#markAttested = markAttestedAudited(db, executor)
  }

  /** @throws {@link InternalError} `ERR_KBS_SESSION_EXISTS` when the id is taken (never reused). */
  async create(session: Omit<SessionRecord, 'state' | 'token'>): Promise<void> {
    const inserted = await this.#create.affected(
      session.id,
      session.tee,
      session.nonce,
      session.expiresAt.toISOString(),
    )
    if (inserted !== 1) {
      throw new InternalError(
        'ERR_KBS_SESSION_EXISTS',
        'a new session was given the id of an existing one',
        {
          hint: 'session ids must be fresh random values; this is a bug',
        },
      )
    }
  }

  /** The session as stored, expired or not: the caller compares `expiresAt` with its `now`. */
  async get(id: string): Promise<SessionRecord | undefined> {
    const [row] = await this.#get.rows(id)
    return row === undefined ? undefined : toRecord(row)
  }

  async consumeChallenge(id: string, now: Date): Promise<SessionRecord | undefined> {
    const [row] = await this.#consume.rows(id, now.toISOString())
    return row === undefined ? undefined : toRecord(row)
  }

  /**
   * One round trip on PostgreSQL, one transaction on SQLite.
   *
   * @throws {@link InternalError} `ERR_KBS_SESSION_STATE` unless the session is `consumed` (then
   *   nothing is written).
   */
  async markAttested(id: string, token: string, issued: AuditEntryInput): Promise<void> {
    if ((await this.#markAttested([id, token, ...auditValues(issued)])) !== 1) {
      throw new InternalError(
        'ERR_KBS_SESSION_STATE',
        'a token was recorded for a session whose challenge was not consumed (or that is gone)',
        {
          hint: 'consume the challenge first; this is a bug',
        },
      )
    }
  }

  async deleteExpired(now: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('rcar_session')
      .where('expires_at', '<', now.toISOString())
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

/**
 * `consumed` → `attested` with the token, and the audit entry appended only when that changed the
 * row: PostgreSQL's data-modifying `WITH` (one statement), SQLite's two statements in one
 * transaction. Arguments: id, token, the entry's values.
 */
function markAttestedAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
): (args: readonly unknown[]) => Promise<number> {
  const marked = db
    .updateTable('rcar_session')
    .set({ state: 'attested', token: param(1) })
    .where('id', '=', param(0))
    .where('state', '=', 'consumed')
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = new HotStatement(
      executor,
      compilable(
        db,
        sql`WITH marked AS (${marked.returning('id')}) ${auditInsertFrom('marked', 2)}`,
      ),
    )
    return (args) => joined.affected(...args)
  }
  const mark = new HotStatement(executor, marked)
  const append = new HotStatement(executor, auditInsert(db))
  return (args) =>
    atomic.run((execute) =>
      mark.affectedWith(execute, ...args) === 1
        ? append.affectedWith(execute, ...args.slice(2))
        : 0,
    )
}

function toRecord(row: Selectable<RcarSessionTable>): SessionRecord {
  return {
    id: row.id,
    tee: row.tee as KbsTee,
    nonce: row.nonce,
    expiresAt: new Date(row.expires_at),
    state: row.state as SessionRecord['state'],
    ...(row.token === null ? {} : { token: row.token }),
  }
}

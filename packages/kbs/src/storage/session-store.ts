/**
 * RCAR sessions shared by every replica on the database. `/auth` writes nothing: the challenge
 * travels in its authenticated cookie (`rcar-challenge.ts`). `/attest` writes once, at its end:
 * the session row, inserted with `ON CONFLICT (id) DO NOTHING`, together with the audit entry
 * (PostgreSQL: one statement, a data-modifying `WITH`; SQLite: one transaction). Of two
 * `/attest` calls with one challenge, whichever process they run in, exactly one inserts; the
 * other learns the challenge was used. The audit entry is appended only with the row.
 *
 * A round trip per handshake at `/attest`, and one more at `/resource` only when the guest
 * presents the cookie instead of its Bearer token (the session row holds the token).
 *
 * @module
 */
import { sql, type Kysely, type Selectable } from 'kysely'
import type { KbsTee } from '@initguard/kbs-protocol'
import type {
  AuditEntryInput,
  IssuedChallenge,
  RcarChallenge,
  SessionRecord,
  SessionStore,
} from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import { HotStatement, param } from './hot-statement.ts'
import type { RawExecutor } from './hot-statement.ts'
import type { RcarChallengeCodec } from './rcar-challenge.ts'
import type { KbsDatabase, RcarSessionTable } from './schema.ts'

/**
 * How long a session row outlives its expiry before `deleteExpired` removes it. A row is what
 * makes a challenge single use, and replicas check expiry with their own clocks: a row swept by a
 * replica whose clock runs ahead would let one running behind accept the challenge again. So the
 * replicas' clocks must agree within this bound (NTP does far better).
 */
export const SESSION_RETENTION_GRACE_MS: number = 5 * 60_000

/** Named, not `*`: a prepared statement's result must not change when a migration adds a column. */
const SESSION_COLUMNS = ['id', 'tee', 'nonce', 'expires_at', 'state', 'token'] as const

/** {@link SessionStore} over kysely; the per-handshake queries run prepared (`hot-statement.ts`). */
export class SqlSessionStore implements SessionStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #challenges: RcarChallengeCodec
  readonly #get: HotStatement<Selectable<RcarSessionTable>>
  /** The session row, then the audit entry only if the row was new: how many entries appended. */
  readonly #record: (args: readonly unknown[]) => Promise<number>

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor, challenges: RcarChallengeCodec) {
    this.#db = db
    this.#challenges = challenges
    this.#get = new HotStatement(
      executor,
      db.selectFrom('rcar_session').select(SESSION_COLUMNS).where('id', '=', param(0)),
    )
    this.#record = insertSessionAudited(db, executor)
  }

  issueChallenge(tee: KbsTee, expiresAt: Date): IssuedChallenge {
    return this.#challenges.issue(tee, expiresAt)
  }

  openChallenge(cookie: string): RcarChallenge | undefined {
    return this.#challenges.open(cookie)
  }

  async recordAttested(
    challenge: RcarChallenge,
    token: string,
    issued: AuditEntryInput,
  ): Promise<boolean> {
    return (await this.#record(sessionValues(challenge, 'attested', token, issued))) === 1
  }

  async recordRefused(challenge: RcarChallenge, denied: AuditEntryInput): Promise<boolean> {
    return (await this.#record(sessionValues(challenge, 'consumed', null, denied))) === 1
  }

  /** The session as stored, expired or not: the caller compares `expiresAt` with its `now`. */
  async get(id: string): Promise<SessionRecord | undefined> {
    const [row] = await this.#get.rows(id)
    return row === undefined ? undefined : toRecord(row)
  }

  async deleteExpired(now: Date): Promise<number> {
    const before = new Date(now.getTime() - SESSION_RETENTION_GRACE_MS)
    const result = await this.#db
      .deleteFrom('rcar_session')
      .where('expires_at', '<', before.toISOString())
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

/** The arguments of {@link insertSessionAudited}: the row's six values, then the entry's. */
function sessionValues(
  challenge: RcarChallenge,
  state: 'attested' | 'consumed',
  token: string | null,
  entry: AuditEntryInput,
): unknown[] {
  const { id, tee, nonce, expiresAt } = challenge
  return [id, tee, nonce, expiresAt.toISOString(), state, token, ...auditValues(entry)]
}

/**
 * The session row, unless its id exists, and the audit entry appended only when the row was
 * inserted: PostgreSQL's data-modifying `WITH` (one statement), SQLite's two statements in one
 * transaction. Arguments: id, tee, nonce, expires_at, state, token, the entry's values.
 */
function insertSessionAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
): (args: readonly unknown[]) => Promise<number> {
  const inserted = db
    .insertInto('rcar_session')
    .values({
      id: param(0),
      tee: param(1),
      nonce: param(2),
      expires_at: param(3),
      state: param(4),
      token: param(5),
    })
    .onConflict((conflict) => conflict.column('id').doNothing())
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = new HotStatement(
      executor,
      compilable(
        db,
        sql`WITH inserted AS (${inserted.returning('id')}) ${auditInsertFrom('inserted', 6)}`,
      ),
    )
    return (args) => joined.affected(...args)
  }
  const insert = new HotStatement(executor, inserted)
  const append = new HotStatement(executor, auditInsert(db))
  return (args) =>
    atomic.run((execute) =>
      insert.affectedWith(execute, ...args) === 1
        ? append.affectedWith(execute, ...args.slice(6))
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

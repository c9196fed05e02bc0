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
 * Single use must not depend on the replicas' clocks: the sweep and the insert both read the
 * DATABASE's clock (PostgreSQL's `now()`; SQLite's is this host's). A row is inserted only while
 * its expiry is later than that clock minus {@link SESSION_RETENTION_GRACE_MS}, and the sweep
 * removes only rows whose expiry is earlier than it: once a row may have been swept, its challenge
 * can never be recorded again, whatever clock the replica that tries runs on.
 *
 * @module
 */
import { sql, type Kysely, type RawBuilder, type Selectable } from 'kysely'
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
import type { KbsDatabaseKind } from './dialect.ts'
import type { RcarChallengeCodec } from './rcar-challenge.ts'
import type { KbsDatabase, RcarSessionTable } from './schema.ts'

/**
 * How long a session row outlives its expiry (by the database's clock) before `deleteExpired`
 * removes it; a challenge whose expiry is further in the past than this can no longer be recorded.
 * Replicas check expiry with their own clocks first, so it also bounds how far behind the
 * database a replica's clock may run before it refuses fresh challenges as used (NTP does better).
 */
export const SESSION_RETENTION_GRACE_MS: number = 5 * 60_000

/** The most rows one statement of the sweep (`deleteExpired`) removes. */
export const SESSION_SWEEP_BATCH = 500

/** Named, not `*`: a prepared statement's result must not change when a migration adds a column. */
const SESSION_COLUMNS = ['id', 'tee', 'nonce', 'expires_at', 'state', 'token'] as const

/** {@link SessionStore} over kysely; the per-handshake queries run prepared (`hot-statement.ts`). */
export class SqlSessionStore implements SessionStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #kind: KbsDatabaseKind
  readonly #challenges: RcarChallengeCodec
  readonly #get: HotStatement<Selectable<RcarSessionTable>>
  /** The session row, then the audit entry only if the row was new: how many entries appended. */
  readonly #record: (args: readonly unknown[]) => Promise<number>

  constructor(
    db: Kysely<KbsDatabase>,
    executor: RawExecutor,
    challenges: RcarChallengeCodec,
    kind: KbsDatabaseKind,
  ) {
    this.#db = db
    this.#kind = kind
    this.#challenges = challenges
    this.#get = new HotStatement(
      executor,
      db.selectFrom('rcar_session').select(SESSION_COLUMNS).where('id', '=', param(0)),
    )
    this.#record = insertSessionAudited(db, executor, kind)
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

  /**
   * By the database's clock, never this process's (see the module's comment), in statements of at
   * most {@link SESSION_SWEEP_BATCH} rows with a turn of the event loop between them: SQLite runs
   * in this thread, and one statement over a minute of sessions (18,000 rows of some 3 kB at
   * 300 handshakes/s) held every request for about 200 ms. Ends: no row past the grace is ever
   * inserted again (`stillRetained`).
   */
  async deleteExpired(): Promise<number> {
    let deleted = 0
    for (;;) {
      const result = await this.#db
        .deleteFrom('rcar_session')
        .where('id', 'in', (db) =>
          db
            .selectFrom('rcar_session')
            .select('id')
            .where('expires_at', '<', sweptBefore(this.#kind))
            .limit(SESSION_SWEEP_BATCH),
        )
        .executeTakeFirst()
      const batch = Number(result.numDeletedRows)
      deleted += batch
      if (batch < SESSION_SWEEP_BATCH) return deleted
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
}

/**
 * The arguments of {@link insertSessionAudited}: the row's six values, then the entry's, which
 * names the session.
 */
function sessionValues(
  challenge: RcarChallenge,
  state: 'attested' | 'consumed',
  token: string | null,
  entry: AuditEntryInput,
): unknown[] {
  const { id, tee, nonce, expiresAt } = challenge
  // The entry is the session's: it carries its id, whatever the caller put there.
  const audited = { ...entry, session: id }
  return [id, tee, nonce, expiresAt.toISOString(), state, token, ...auditValues(audited)]
}

/**
 * The retention grace before the database's clock, as the ISO text `expires_at` holds (fixed
 * width, so text order is time order). PostgreSQL's `MS` truncates: a row is swept only when its
 * expiry is strictly earlier, never a millisecond early.
 */
function sweptBefore(kind: KbsDatabaseKind): RawBuilder<string> {
  const grace = String(SESSION_RETENTION_GRACE_MS)
  return kind === 'postgres'
    ? sql<string>`to_char((now() - ${sql.raw(`interval '${grace} milliseconds'`)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`
    : sql<string>`strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ${sql.lit(`-${String(SESSION_RETENTION_GRACE_MS / 1000)} seconds`)})`
}

/**
 * The condition under which the row whose expiry (ISO text) is `expires` may be inserted: later
 * than {@link sweptBefore}, by the database's clock, so a row the sweep may have removed is never
 * written again. PostgreSQL compares times (`now()` has microseconds), SQLite fixed-width text.
 */
function stillRetained(kind: KbsDatabaseKind, expires: unknown): RawBuilder<boolean> {
  return kind === 'postgres'
    ? sql<boolean>`CAST(${expires} AS timestamptz) > now() - ${sql.raw(`interval '${String(SESSION_RETENTION_GRACE_MS)} milliseconds'`)}`
    : sql<boolean>`${expires} > ${sweptBefore(kind)}`
}

const SESSION_INSERT_COLUMNS = ['id', 'tee', 'nonce', 'expires_at', 'state', 'token'] as const

/**
 * The session row, unless its id exists or its expiry is past the retention grace by the
 * database's clock ({@link stillRetained}), and the audit entry appended only when the row was
 * inserted: PostgreSQL's data-modifying `WITH` (one statement), SQLite's two statements in one
 * transaction. Arguments: id, tee, nonce, expires_at, state, token, the entry's values.
 */
function insertSessionAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
  kind: KbsDatabaseKind,
): (args: readonly unknown[]) => Promise<number> {
  // Cast: PostgreSQL cannot infer a parameter's type in a select list.
  const values = sql.join(
    SESSION_INSERT_COLUMNS.map((_, index) => sql`CAST(${param(index)} AS text)`),
  )
  const inserted = db
    .insertInto('rcar_session')
    .columns(SESSION_INSERT_COLUMNS)
    // SQLite needs the WHERE anyway: without it `ON CONFLICT` would parse as a join's.
    .expression(sql`SELECT ${values} WHERE ${stillRetained(kind, param(3))}`)
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

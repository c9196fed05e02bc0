/**
 * Secrets by resource path, sealed at rest (see `envelope.ts`): the AAD names the path, so a row's
 * bytes copied under another path do not open.
 *
 * Rollback. Whoever can write the database but lacks the master key cannot forge a row, but can
 * write back one they copied earlier: an older value, or the value of a resource since deleted.
 * So every put and delete raises the row's generation, which the AAD names too (`<path>#<n>`), to
 * at least the clock in milliseconds (so a put that finds no row, because one was removed
 * outright, is still above the removed one, not 1), and a delete leaves a tombstone (an empty value sealed as `<path>#<n>#deleted`) instead of removing
 * the row. Each store instance (one per replica) remembers the highest generation it has opened
 * for each path, and refuses (500, `ERR_KBS_RESOURCE_ROLLBACK`) a row of a lower one: a replica
 * never releases a value older than one it has seen, nor a value it has seen deleted. What
 * remains: a replica that has not yet read a path (a fresh one, after a restart) cannot tell an
 * old row from the newest, so a rollback to before anything it saw goes unnoticed; rows from
 * before migration 005 (generation 0, sealed without one) open as before, and so can be written
 * back until a replica has seen a later generation; a row removed outright (not a tombstone)
 * reads as absent, which releases nothing; and a put after such a removal is above the removed row
 * only if its replica's clock has passed that row's generation (puts in a burst run a step ahead
 * of the clock each; a replica whose clock is behind the one that wrote the row steps less).
 * After a backup restore or a failover that lost commits, a replica that has seen a lost
 * generation refuses the restored rows until it restarts (see docs/production.md).
 *
 * @module
 */
import { sql, type Compilable, type Kysely } from 'kysely'
import { InternalError, UnavailableError, UsageError } from '@initguard/core'
import type {
  AuditEntryInput,
  ReleasedResource,
  ResourcePath,
  ResourceStore,
  ResourceSummary,
} from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import type { Envelope, EnvelopeRow } from './envelope.ts'
import { HotStatement, param } from './hot-statement.ts'
import type { RawExecutor } from './hot-statement.ts'
import type { KbsDatabase } from './schema.ts'

const SEGMENT = '[A-Za-z0-9_-][A-Za-z0-9_.-]*'
const RESOURCE_PATH_PATTERN = new RegExp(`^${SEGMENT}/${SEGMENT}/${SEGMENT}$`)

/**
 * Refuse a path that is not `<repository>/<type>/<tag>` with Trustee's segment rule, so no
 * malformed path reaches the database.
 *
 * @throws {@link UsageError} `ERR_KBS_RESOURCE_PATH`.
 */
export function checkResourcePath(path: string): ResourcePath {
  if (!RESOURCE_PATH_PATTERN.test(path)) {
    throw new UsageError(
      'ERR_KBS_RESOURCE_PATH',
      `"${path.slice(0, 200)}" is not a resource path`,
      {
        hint: 'use <repository>/<type>/<tag>, each segment of letters, digits, _, - and . (not first)',
      },
    )
  }
  return path
}

/** A resource row as the store reads it to open it. */
interface StoredResource {
  readonly sealed: Uint8Array
  /** See {@link storedGeneration}: a string on PostgreSQL. */
  readonly generation: unknown
  readonly deleted: number
}

/**
 * A row's generation as read: a number on SQLite, a string on PostgreSQL (node-postgres returns
 * `bigint` as text, since it may not fit a JavaScript number). Anything but a non-negative safe
 * integer is refused rather than rounded: two generations rounded to the same number would open
 * under one AAD and compare as equal.
 *
 * @throws {@link InternalError} `ERR_KBS_RESOURCE_GENERATION`.
 */
export function storedGeneration(path: string, value: unknown): number {
  const generation =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(value)
        ? Number(value)
        : typeof value === 'bigint'
          ? Number(value)
          : Number.NaN
  const exact = typeof value !== 'bigint' || BigInt(generation) === value
  if (!exact || !Number.isSafeInteger(generation) || generation < 0) {
    throw generationError(path, value)
  }
  return generation
}

/** What to do about a generation the KBS cannot use: the row did not come from a KBS write. */
const GENERATION_HINT =
  'someone wrote the row outside the KBS: find out who, delete the row in the database (the KBS refuses to put or delete over it), then put the resource again'

/** A stored generation that is not a non-negative safe integer; `value` as read, cut. */
function generationError(path: string, value: unknown): InternalError {
  const shown = typeof value === 'string' ? value.slice(0, 40) : String(value)
  return new InternalError(
    'ERR_KBS_RESOURCE_GENERATION',
    `the stored resource ${path} has generation ${shown}, not an integer from 0 to ${String(Number.MAX_SAFE_INTEGER)}`,
    { details: { resource: path, generation: shown }, hint: GENERATION_HINT },
  )
}

/**
 * A put or delete whose next generation would pass `Number.MAX_SAFE_INTEGER`. The message names
 * the generation that is stored (or that this replica remembers), the value an operator can find
 * in the database, not the computed next one, which is in no row.
 */
function generationExhaustedError(
  path: string,
  stored: number | undefined,
  seen: number | undefined,
): InternalError {
  const max = String(Number.MAX_SAFE_INTEGER)
  if (seen !== undefined && seen > (stored ?? -1)) {
    // The row was written back lower or removed since this replica read the high one.
    const row = stored === undefined ? 'no row' : `generation ${String(stored)}`
    return new InternalError(
      'ERR_KBS_RESOURCE_GENERATION',
      `this replica has seen generation ${String(seen)} of resource ${path} (the database now has ${row}): no generation above it is an integer up to ${max}, so the resource cannot be put or deleted`,
      {
        details: { resource: path, generation: String(seen), stored: stored ?? 'none' },
        hint: `${GENERATION_HINT}; restart each replica that reports this (it remembers the generation it has seen)`,
      },
    )
  }
  const shown = String(stored ?? 0)
  return new InternalError(
    'ERR_KBS_RESOURCE_GENERATION',
    `the stored resource ${path} has generation ${shown}: no generation above it is an integer up to ${max}, so the resource cannot be put or deleted`,
    { details: { resource: path, generation: shown }, hint: GENERATION_HINT },
  )
}

/** How often a put or delete reads the generation again when another write came in between. */
const WRITE_ATTEMPTS = 8

/** The row a resource's sealed value is bound to: path, generation, and whether a tombstone. */
function resourceRow(path: string, generation: number, deleted: boolean): EnvelopeRow {
  // Generation 0: sealed before migration 005, with the path alone. `#` is in no path segment.
  const id =
    generation === 0 && !deleted
      ? path
      : `${path}#${String(generation)}${deleted ? '#deleted' : ''}`
  return { kind: 'resource', id }
}

/** {@link ResourceStore} over kysely. */
export class SqlResourceStore implements ResourceStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #envelope: Envelope
  /** Every release reads one: run prepared (`hot-statement.ts`). */
  readonly #get: HotStatement<StoredResource>
  /** The generation and tombstone mark of a path, read before a put or delete. */
  readonly #current: HotStatement<{ readonly generation: unknown; readonly deleted: number }>
  /** The sealed row and the id of the release's audit entry (arguments path, the entry's). */
  readonly #release: (args: readonly unknown[]) => Promise<SealedRelease | undefined>
  /** Upsert if the generation is still the one read (arguments: {@link RESOURCE_UPSERT_ARGUMENTS}). */
  readonly #put: HotStatement<unknown>
  /** Upsert and its audit entry (arguments the upsert's, the entry's). */
  readonly #putAudited: (args: readonly unknown[]) => Promise<number>
  /** Tombstone if the generation is still the one read (arguments: {@link TOMBSTONE_ARGUMENTS}). */
  readonly #tombstone: HotStatement<unknown>
  /** Tombstone and its audit entry, appended only when a row changed (arguments the tombstone's, the entry's). */
  readonly #deleteAudited: (args: readonly unknown[]) => Promise<number>
  /**
   * The highest generation this instance has opened (or written) per path: a row of a lower one
   * is a rollback. One entry per path read, so bounded by the resource table.
   */
  readonly #seen = new Map<string, number>()

  constructor(db: Kysely<KbsDatabase>, envelope: Envelope, executor: RawExecutor) {
    this.#db = db
    this.#envelope = envelope
    this.#get = new HotStatement(
      executor,
      db
        .selectFrom('resource')
        .select(['sealed', 'generation', 'deleted'])
        .where('path', '=', param(0)),
    )
    this.#current = new HotStatement(
      executor,
      db.selectFrom('resource').select(['generation', 'deleted']).where('path', '=', param(0)),
    )
    this.#release = readAudited(db, executor, this.#get)
    const upsert = upsertResource(db)
    this.#put = new HotStatement(executor, upsert)
    this.#putAudited = writeAudited(db, executor, {
      change: upsert,
      returning: upsert.returning('path'),
      first: RESOURCE_UPSERT_ARGUMENTS,
    })
    const tombstone = tombstoneResource(db)
    this.#tombstone = new HotStatement(executor, tombstone)
    this.#deleteAudited = writeAudited(db, executor, {
      change: tombstone,
      returning: tombstone.returning('path'),
      first: TOMBSTONE_ARGUMENTS,
    })
  }

  /**
   * Seal `value` as the path's next generation and write it unless another write came in between
   * (then again, with the generation that one left).
   */
  async put(
    path: ResourcePath,
    value: Uint8Array,
    now: Date,
    changed?: AuditEntryInput,
  ): Promise<void> {
    checkResourcePath(path)
    await this.#write(path, async (read) => {
      // No row: -1, which no row has, so the upsert inserts or, if a row came meanwhile, does nothing.
      const expected = read?.generation ?? -1
      const generation = this.#next(path, read)
      const args = [
        path,
        this.#envelope.seal(resourceRow(path, generation, false), value),
        value.length,
        now.toISOString(),
        generation,
        expected,
      ]
      const changedRows =
        changed === undefined
          ? await this.#put.affected(...args)
          : await this.#putAudited([...args, ...auditValues(changed)])
      return changedRows > 0 ? generation : undefined
    })
  }

  async get(path: ResourcePath): Promise<Uint8Array | undefined> {
    checkResourcePath(path)
    const [row] = await this.#get.rows(path)
    return row === undefined ? undefined : this.#open(path, row)
  }

  /**
   * One round trip on PostgreSQL, one transaction on SQLite. A tombstone is opened (so its
   * generation counts) and releases nothing, with no audit entry.
   */
  async release(
    path: ResourcePath,
    released: AuditEntryInput,
  ): Promise<ReleasedResource | undefined> {
    checkResourcePath(path)
    const found = await this.#release([path, ...auditValues(released)])
    if (found === undefined) return undefined
    if (found.deleted !== 0 || found.audit_id === null) {
      this.#open(path, found)
      return undefined
    }
    const auditId = found.audit_id
    return {
      auditId,
      // A row that does not open, or is older than one seen, is the operator's problem (500), not
      // the guest's (401).
      plaintext: () => {
        const value = this.#open(path, found)
        if (value === undefined) throw rollbackError(path, 'a tombstone read as a value')
        return value
      },
    }
  }

  async list(): Promise<readonly ResourceSummary[]> {
    const rows = await this.#db
      .selectFrom('resource')
      .select(['path', 'size', 'updated_at'])
      .where('deleted', '=', 0)
      .orderBy('path')
      .execute()
    return rows.map((row) => ({ path: row.path, size: row.size, updatedAt: row.updated_at }))
  }

  /** Replaces the value with a tombstone of the next generation; false when there is none. */
  async delete(path: ResourcePath, changed?: AuditEntryInput): Promise<boolean> {
    checkResourcePath(path)
    let deleted = false
    await this.#write(path, async (read) => {
      if (read?.deleted !== 0) return 'nothing'
      const generation = this.#next(path, read)
      const args = [
        path,
        this.#envelope.seal(resourceRow(path, generation, true), new Uint8Array(0)),
        generation,
        read.generation,
      ]
      const changedRows =
        changed === undefined
          ? await this.#tombstone.affected(...args)
          : await this.#deleteAudited([...args, ...auditValues(changed)])
      if (changedRows === 0) return undefined
      deleted = true
      return generation
    })
    return deleted
  }

  /**
   * The generation a write after `read` gets: above the row's, above any this instance saw, and
   * at least the clock in milliseconds. The clock is what survives a row removed outright (not a
   * tombstone): a put that finds no row would otherwise start again at 1, below a copy of the
   * removed row that a database writer puts back afterwards, which every replica would then take
   * as newer. A replica whose clock is behind only makes a smaller step, never one back.
   */
  #next(path: string, read: { readonly generation: number } | undefined): number {
    const seen = this.#seen.get(path)
    const next = Math.max((read?.generation ?? 0) + 1, (seen ?? 0) + 1, Date.now())
    if (!Number.isSafeInteger(next)) throw generationExhaustedError(path, read?.generation, seen)
    return next
  }

  /**
   * Read the path's generation, run `attempt` with it, and again while it reports that another
   * write came in between (undefined); a generation written is remembered.
   *
   * @throws {@link UnavailableError} `ERR_KBS_RESOURCE_CONTENDED` after {@link WRITE_ATTEMPTS}:
   *   not a fault of the KBS but a race it lost, which a retry can win, so it is answered 503
   *   with its message (the generic 500 of an internal error told the admin neither).
   */
  async #write(
    path: string,
    attempt: (
      read: { readonly generation: number; readonly deleted: number } | undefined,
    ) => Promise<number | 'nothing' | undefined>,
  ): Promise<void> {
    for (let n = 0; n < WRITE_ATTEMPTS; n++) {
      const [row] = await this.#current.rows(path)
      const read =
        row === undefined
          ? undefined
          : { generation: storedGeneration(path, row.generation), deleted: row.deleted }
      const written = await attempt(read)
      if (written === 'nothing') return
      if (written !== undefined) {
        this.#remember(path, written)
        return
      }
    }
    throw new UnavailableError(
      'ERR_KBS_RESOURCE_CONTENDED',
      `resource ${path} changed under ${String(WRITE_ATTEMPTS)} writes in a row (other writes of it kept landing first); nothing was changed: retry`,
      {
        details: { resource: path, attempts: WRITE_ATTEMPTS },
        hint: 'another replica is writing it in a loop; try again',
      },
    )
  }

  /**
   * Open a row: its value, or undefined for a tombstone.
   *
   * @throws {@link InternalError} `ERR_KBS_ENVELOPE_*` (see `Envelope.openStored`), and
   *   `ERR_KBS_RESOURCE_ROLLBACK` when this instance has seen a later generation of the path.
   */
  #open(path: string, row: StoredResource): Uint8Array | undefined {
    const deleted = row.deleted !== 0
    const generation = storedGeneration(path, row.generation)
    const value = this.#envelope.openStored(resourceRow(path, generation, deleted), row.sealed)
    const seen = this.#seen.get(path)
    if (seen !== undefined && generation < seen) {
      throw rollbackError(
        path,
        `generation ${String(generation)}${deleted ? ' (a tombstone)' : ''} is stored where this replica has seen generation ${String(seen)}`,
      )
    }
    this.#remember(path, generation)
    return deleted ? undefined : value
  }

  #remember(path: string, generation: number): void {
    if (generation > (this.#seen.get(path) ?? -1)) this.#seen.set(path, generation)
  }
}

function rollbackError(path: string, what: string): InternalError {
  return new InternalError(
    'ERR_KBS_RESOURCE_ROLLBACK',
    `the stored resource ${path} was rolled back: ${what}`,
    {
      details: { resource: path },
      hint: 'someone wrote an old copy of the row back into the database: find out who, then put the resource again',
    },
  )
}

/** How many arguments {@link upsertResource} takes before the audit entry's. */
const RESOURCE_UPSERT_ARGUMENTS = 6

/**
 * Insert a resource row, or replace it if its generation is still the one read; arguments path,
 * sealed, size, updated_at, the new generation, the generation read (-1: none).
 */
function upsertResource(db: Kysely<KbsDatabase>) {
  return db
    .insertInto('resource')
    .values({
      path: param(0),
      sealed: param(1),
      size: param(2),
      updated_at: param(3),
      generation: param(4),
      deleted: 0,
    })
    .onConflict((conflict) =>
      conflict
        .column('path')
        .doUpdateSet((eb) => ({
          sealed: eb.ref('excluded.sealed'),
          size: eb.ref('excluded.size'),
          updated_at: eb.ref('excluded.updated_at'),
          generation: eb.ref('excluded.generation'),
          deleted: 0,
        }))
        .where('resource.generation', '=', param(5)),
    )
}

/** How many arguments {@link tombstoneResource} takes before the audit entry's. */
const TOMBSTONE_ARGUMENTS = 4

/**
 * Replace a live resource row by a tombstone if its generation is still the one read; arguments
 * path, sealed tombstone, the new generation, the generation read.
 */
function tombstoneResource(db: Kysely<KbsDatabase>) {
  return db
    .updateTable('resource')
    .set({ sealed: param(1), size: 0, generation: param(2), deleted: 1 })
    .where('path', '=', param(0))
    .where('generation', '=', param(3))
    .where('deleted', '=', 0)
}

/**
 * An admin change to the resource table and its audit entry as one write, the entry appended
 * only for a row the change touched: PostgreSQL's data-modifying `WITH` (one statement), SQLite's
 * two statements in one IMMEDIATE transaction. A change is never made without its entry (the
 * entry failing fails the change), nor an entry written for a change that was not made.
 * Arguments: the change's (`first` of them), then the entry's values. Resolves to the number of
 * rows changed.
 */
function writeAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
  statement: {
    /** The change. */
    readonly change: Compilable
    /** The same change returning a row per row it touched. */
    readonly returning: Compilable
    /** How many arguments the change takes. */
    readonly first: number
  },
): (args: readonly unknown[]) => Promise<number> {
  const { change, returning, first } = statement
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = new HotStatement(
      executor,
      compilable(db, sql`WITH changed AS (${returning}) ${auditInsertFrom('changed', first)}`),
    )
    return (args) => joined.affected(...args)
  }
  const write = new HotStatement(executor, change)
  const append = new HotStatement(executor, auditInsert(db))
  return (args) =>
    atomic.run((execute) =>
      write.affectedWith(execute, ...args.slice(0, first)) > 0
        ? append.affectedWith(execute, ...args.slice(first))
        : 0,
    )
}

interface SealedRelease extends StoredResource {
  /** Null for a tombstone: no entry is appended for it. */
  readonly audit_id: number | null
}

/**
 * The sealed row of a path and the audit entry, appended only when it is a live one: PostgreSQL's
 * data-modifying `WITH` (one statement, one snapshot), SQLite's read and append in one IMMEDIATE
 * transaction (`get` is the read). Arguments: path, the entry's values.
 */
function readAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
  get: HotStatement<StoredResource>,
): (args: readonly unknown[]) => Promise<SealedRelease | undefined> {
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = new HotStatement<SealedRelease>(
      executor,
      compilable(
        db,
        sql`WITH found AS (SELECT sealed, generation, deleted FROM resource WHERE path = ${param(0)}),
          live AS (SELECT 1 FROM found WHERE deleted = 0),
          logged AS (${auditInsertFrom('live', 1)} RETURNING id)
          SELECT found.sealed, found.generation, found.deleted, logged.id AS audit_id
          FROM found LEFT JOIN logged ON true`,
      ),
    )
    return async (args) => (await joined.rows(...args))[0]
  }
  const append = new HotStatement(executor, auditInsert(db).returning('id'))
  return (args) =>
    atomic.run((execute) => {
      const [row] = get.rowsWith(execute, args[0])
      if (row === undefined) return undefined
      if (row.deleted !== 0) return { ...row, audit_id: null }
      const [logged] = append.rowsWith(execute, ...args.slice(1))
      return logged === undefined ? undefined : { ...row, audit_id: logged.id }
    })
}

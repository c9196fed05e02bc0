/**
 * Secrets by resource path, sealed at rest (see `envelope.ts`): the AAD names the path, so a row's
 * bytes copied under another path do not open.
 *
 * @module
 */
import { sql, type Compilable, type Kysely } from 'kysely'
import { UsageError } from '@initguard/core'
import type {
  AuditEntryInput,
  ReleasedResource,
  ResourcePath,
  ResourceStore,
  ResourceSummary,
} from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import type { Envelope } from './envelope.ts'
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

/** {@link ResourceStore} over kysely. */
export class SqlResourceStore implements ResourceStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #envelope: Envelope
  /** Every release reads one: run prepared (`hot-statement.ts`). */
  readonly #get: HotStatement<{ readonly sealed: Uint8Array }>
  /** The sealed value and the id of the release's audit entry (arguments path, the entry's). */
  readonly #release: (args: readonly unknown[]) => Promise<SealedRelease | undefined>
  /** Upsert and its audit entry (arguments path, sealed, size, updated_at, the entry's). */
  readonly #putAudited: (args: readonly unknown[]) => Promise<number>
  /** Delete and its audit entry, appended only when a row went (arguments path, the entry's). */
  readonly #deleteAudited: (args: readonly unknown[]) => Promise<number>

  constructor(db: Kysely<KbsDatabase>, envelope: Envelope, executor: RawExecutor) {
    this.#db = db
    this.#envelope = envelope
    this.#get = new HotStatement(
      executor,
      db.selectFrom('resource').select('sealed').where('path', '=', param(0)),
    )
    this.#release = readAudited(db, executor, this.#get)
    const upsert = upsertResource(db)
    this.#putAudited = writeAudited(db, executor, {
      change: upsert,
      returning: upsert.returning('path'),
      first: RESOURCE_UPSERT_ARGUMENTS,
    })
    const remove = db.deleteFrom('resource').where('path', '=', param(0))
    this.#deleteAudited = writeAudited(db, executor, {
      change: remove,
      returning: remove.returning('path'),
      first: 1,
    })
  }

  async put(
    path: ResourcePath,
    value: Uint8Array,
    now: Date,
    changed?: AuditEntryInput,
  ): Promise<void> {
    checkResourcePath(path)
    const row = {
      sealed: this.#envelope.seal({ kind: 'resource', id: path }, value),
      size: value.length,
      updated_at: now.toISOString(),
    }
    if (changed !== undefined) {
      await this.#putAudited([path, row.sealed, row.size, row.updated_at, ...auditValues(changed)])
      return
    }
    await this.#db
      .insertInto('resource')
      .values({ path, ...row })
      .onConflict((conflict) => conflict.column('path').doUpdateSet(row))
      .execute()
  }

  async get(path: ResourcePath): Promise<Uint8Array | undefined> {
    checkResourcePath(path)
    const [row] = await this.#get.rows(path)
    return row === undefined
      ? undefined
      : this.#envelope.openStored({ kind: 'resource', id: path }, row.sealed)
  }

  /** One round trip on PostgreSQL, one transaction on SQLite. */
  async release(
    path: ResourcePath,
    released: AuditEntryInput,
  ): Promise<ReleasedResource | undefined> {
    checkResourcePath(path)
    const found = await this.#release([path, ...auditValues(released)])
    return found === undefined
      ? undefined
      : {
          auditId: found.audit_id,
          // A row that does not open is the operator's problem (500), not the guest's (401).
          plaintext: () => this.#envelope.openStored({ kind: 'resource', id: path }, found.sealed),
        }
  }

  async list(): Promise<readonly ResourceSummary[]> {
    const rows = await this.#db
      .selectFrom('resource')
      .select(['path', 'size', 'updated_at'])
      .orderBy('path')
      .execute()
    return rows.map((row) => ({ path: row.path, size: row.size, updatedAt: row.updated_at }))
  }

  async delete(path: ResourcePath, changed?: AuditEntryInput): Promise<boolean> {
    checkResourcePath(path)
    if (changed !== undefined)
      return (await this.#deleteAudited([path, ...auditValues(changed)])) > 0
    const result = await this.#db.deleteFrom('resource').where('path', '=', path).executeTakeFirst()
    return result.numDeletedRows > 0n
  }
}

/** How many arguments {@link upsertResource} takes before the audit entry's. */
const RESOURCE_UPSERT_ARGUMENTS = 4

/** Insert or replace a resource row; arguments path, sealed, size, updated_at. */
function upsertResource(db: Kysely<KbsDatabase>) {
  return db
    .insertInto('resource')
    .values({ path: param(0), sealed: param(1), size: param(2), updated_at: param(3) })
    .onConflict((conflict) =>
      conflict.column('path').doUpdateSet((eb) => ({
        sealed: eb.ref('excluded.sealed'),
        size: eb.ref('excluded.size'),
        updated_at: eb.ref('excluded.updated_at'),
      })),
    )
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

interface SealedRelease {
  readonly sealed: Uint8Array
  readonly audit_id: number
}

/**
 * The sealed value of a path and the audit entry appended only when there is one: PostgreSQL's
 * data-modifying `WITH` (one statement, one snapshot), SQLite's read and append in one IMMEDIATE
 * transaction (`get` is the read). Arguments: path, the entry's values.
 */
function readAudited(
  db: Kysely<KbsDatabase>,
  executor: RawExecutor,
  get: HotStatement<{ readonly sealed: Uint8Array }>,
): (args: readonly unknown[]) => Promise<SealedRelease | undefined> {
  const { atomic } = executor
  if (atomic === undefined) {
    const joined = new HotStatement<SealedRelease>(
      executor,
      compilable(
        db,
        sql`WITH found AS (SELECT sealed FROM resource WHERE path = ${param(0)}),
          logged AS (${auditInsertFrom('found', 1)} RETURNING id)
          SELECT found.sealed, logged.id AS audit_id FROM found CROSS JOIN logged`,
      ),
    )
    return async (args) => (await joined.rows(...args))[0]
  }
  const append = new HotStatement(executor, auditInsert(db).returning('id'))
  return (args) =>
    atomic.run((execute) => {
      const [row] = get.rowsWith(execute, args[0])
      const [logged] = row === undefined ? [] : append.rowsWith(execute, ...args.slice(1))
      return row === undefined || logged === undefined
        ? undefined
        : { sealed: row.sealed, audit_id: logged.id }
    })
}

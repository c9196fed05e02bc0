/**
 * Workloads, versioned: every `put` adds version n+1 of the name (history kept); `delete` marks
 * every version of the name deleted (kept, hidden); a later `put` continues the numbering.
 *
 * @module
 */
import { sql, type Kysely } from 'kysely'
import { InternalError, UsageError, isInitguardError } from '@initguard/core'
import type {
  AuditEntryInput,
  StoredWorkload,
  UnauthenticatedWorkload,
  UnusableWorkload,
  WorkloadStore,
} from '../ports.ts'
import { auditInsert, auditInsertFrom, auditValues, compilable } from './audit-row.ts'
import { HotStatement, param } from './hot-statement.ts'
import type { AtomicRunner, RawExecutor, SyncExecute } from './hot-statement.ts'
import type { KbsDatabase, WorkloadVersionTable } from './schema.ts'
import { WORKLOAD_INTEGRITY, type WorkloadMac } from './workload-mac.ts'

/** One version of a workload, with when it was deleted (history view). */
export interface WorkloadVersion extends StoredWorkload {
  /** ISO 8601, when the name was deleted while this version existed. */
  readonly deletedAt?: string
}

/**
 * A version that does not authenticate, as {@link SqlWorkloadStore.history} lists it: why, and
 * its deletion mark as stored (unauthenticated).
 */
export interface UnusableWorkloadVersion extends UnusableWorkload {
  readonly deletedAt?: string
}

/**
 * The definition text of a tombstone, the version a delete adds (see
 * {@link SqlWorkloadStore.delete}): empty, which no definition's JSON text can be.
 */
export const WORKLOAD_TOMBSTONE = ''

/** How often a put retries after losing the version number to a concurrent writer. */
const PUT_ATTEMPTS = 50

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** Named, not `*`: a prepared statement's result must not change when a migration adds a column. */
const COLUMNS = ['name', 'version', 'definition', 'created_at', 'deleted_at', 'mac'] as const

/** How many arguments the version insert takes (name … mac) before an audit entry's. */
const INSERT_ARGUMENTS = 6
/** How many arguments the PostgreSQL delete takes (the tombstone's, the marks) before the entry's. */
const DELETE_ARGUMENTS = INSERT_ARGUMENTS + 1

/** A live version as a delete reads it (what its new MAC is computed from). */
type LiveVersion = Pick<
  WorkloadVersionTable,
  'name' | 'version' | 'definition' | 'deleted_at' | 'mac'
>

/** The statements of the writes, each run prepared, with or without an audit entry. */
interface WriteStatements {
  /** The highest version of a name (argument: name). */
  readonly newest: HotStatement<{ readonly version: number | null }>
  /** The live versions of a name (argument: name). */
  readonly live: HotStatement<LiveVersion>
  /** Insert a version, returning it (arguments: name, version, definition, deleted_at, created_at, mac). */
  readonly insert: HotStatement<WorkloadVersionTable>
  /** SQLite: mark one version deleted (arguments: deleted_at, mac, name, version). */
  readonly mark: HotStatement<unknown>
  /** SQLite: append an audit entry (its values). */
  readonly append: HotStatement<unknown>
  /** PostgreSQL: the insert with its audit entry in one statement (insert's, then entry's). */
  readonly insertAudited: HotStatement<WorkloadVersionTable>
  /** PostgreSQL: tombstone, marks and (when audited) the entry in one statement; the count marked. */
  readonly deleteJoined: (audited: boolean) => HotStatement<{ readonly marked: unknown }>
}

/** {@link WorkloadStore} over kysely, plus the history of a name. */
export class SqlWorkloadStore implements WorkloadStore {
  readonly #db: Kysely<KbsDatabase>
  /** Every appraisal lists, and may get: run prepared (`hot-statement.ts`). */
  readonly #get: HotStatement<WorkloadVersionTable>
  readonly #list: HotStatement<WorkloadVersionTable>
  /** Every row read is checked against it; every row written carries it. */
  readonly #mac: WorkloadMac
  readonly #write: WriteStatements
  /** SQLite: several statements in one IMMEDIATE transaction; PostgreSQL has none. */
  readonly #atomic: AtomicRunner | undefined

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor, mac: WorkloadMac) {
    this.#db = db
    this.#mac = mac
    this.#write = writeStatements(db, executor)
    this.#atomic = executor.atomic
    this.#get = new HotStatement(
      executor,
      db
        .selectFrom('workload_version')
        .select(COLUMNS)
        .where('name', '=', param(0))
        .orderBy('version', 'desc')
        .limit(1),
    )
    this.#list = new HotStatement(
      executor,
      db
        .selectFrom('workload_version as w')
        .select(COLUMNS.map((column) => `w.${column}` as const))
        .where('w.deleted_at', 'is', null)
        .where((eb) =>
          eb(
            'w.version',
            '=',
            eb
              .selectFrom('workload_version as newest')
              .select((inner) => inner.fn.max('newest.version').as('version'))
              .whereRef('newest.name', '=', 'w.name'),
          ),
        )
        .orderBy('w.name'),
    )
  }

  /**
   * Version n+1 of `name`, and with `changed` the audit entry it makes for that version, as one
   * write: on SQLite the read of n and both inserts in one IMMEDIATE transaction; on PostgreSQL n
   * is read first and both inserts are one data-modifying `WITH`, whose primary key refuses a
   * concurrent writer that took the same number (the loser reads again and takes the next one).
   */
  async put(
    name: string,
    definition: unknown,
    now: Date,
    changed?: (version: number) => AuditEntryInput,
  ): Promise<StoredWorkload> {
    checkName(name)
    const json = JSON.stringify(definition) as string | undefined
    if (json === undefined) {
      throw new UsageError(
        'ERR_KBS_WORKLOAD_DEFINITION',
        `the definition of workload ${name} is not JSON`,
        {
          hint: 'pass the validated definition object',
        },
      )
    }
    const write = this.#write
    const atomic = this.#atomic
    const entry = (version: number): unknown[] | undefined =>
      changed === undefined ? undefined : auditValues(changed(version))
    if (atomic !== undefined) {
      return this.#stored(
        await atomic.run((execute) => {
          const version = nextVersion(write.newest.rowsWith(execute, name))
          const row = this.#insertWith(execute, this.#versionArgs(name, version, json, null, now))
          const values = entry(version)
          if (values !== undefined) write.append.affectedWith(execute, ...values)
          return row
        }),
      )
    }
    return this.#stored(
      await retryingVersion(async () => {
        const version = nextVersion(await write.newest.rows(name))
        const args = this.#versionArgs(name, version, json, null, now)
        const values = entry(version)
        const [row] =
          values === undefined
            ? await write.insert.rows(...args)
            : await write.insertAudited.rows(...args, ...values)
        return insertedRow(row)
      }),
    )
  }

  /** The arguments of {@link WriteStatements.insert} for a version, its MAC computed. */
  #versionArgs(
    name: string,
    version: number,
    definition: string,
    deletedAt: string | null,
    now: Date,
  ): unknown[] {
    const fields = { name, version, definition, deleted_at: deletedAt }
    return [name, version, definition, deletedAt, now.toISOString(), this.#mac.of(fields)]
  }

  /** SQLite: insert a version inside a transaction; the row. */
  #insertWith(execute: SyncExecute, args: readonly unknown[]): WorkloadVersionTable {
    return insertedRow(this.#write.insert.rowsWith(execute, ...args)[0])
  }

  /**
   * The deletion marks of `live`: each version's new MAC over the mark when its old one
   * authenticates, else its old (bad) MAC kept (see {@link SqlWorkloadStore.delete}).
   */
  #marks(
    live: readonly LiveVersion[],
    deletedAt: string,
  ): { readonly version: number; readonly mac: string | null }[] {
    return live.map((row) => ({
      version: row.version,
      mac: this.#mac.authenticates(row) ? this.#mac.of({ ...row, deleted_at: deletedAt }) : row.mac,
    }))
  }

  async get(name: string): Promise<StoredWorkload | undefined> {
    checkName(name)
    const [row] = await this.#get.rows(name)
    // The newest version carries the deletion mark when the name is deleted.
    return row?.deleted_at !== null ? undefined : this.#stored(row)
  }

  /**
   * The newest version, or why it is not usable and its stored text (see
   * {@link UnauthenticatedWorkload}: for the operator's review, never for a decision).
   */
  async inspect(name: string): Promise<StoredWorkload | UnauthenticatedWorkload | undefined> {
    checkName(name)
    const [row] = await this.#get.rows(name)
    // The newest version carries the deletion mark when the name is deleted.
    if (row?.deleted_at !== null) return undefined
    const checked = this.#checked(row)
    return 'unusable' in checked
      ? { ...checked, unauthenticatedDefinition: row.definition }
      : checked
  }

  /**
   * Each row is checked on its own: a row that does not authenticate is listed as unusable, so
   * one changed (or pre-MAC) row takes its own workload out of use, not every workload.
   */
  async list(): Promise<readonly (StoredWorkload | UnusableWorkload)[]> {
    return (await this.#list.rows()).map((row) => this.#checked(row))
  }

  /** A row as a workload, or as unusable (without its text) when it does not authenticate. */
  #checked(row: WorkloadVersionTable): StoredWorkload | UnusableWorkload {
    try {
      return this.#stored(row)
    } catch (error) {
      if (!isInitguardError(error) || error.code !== WORKLOAD_INTEGRITY) throw error
      const { code, message, hint } = error
      return {
        name: row.name,
        version: row.version,
        unusable: { code, message, ...(hint === undefined ? {} : { hint }) },
      }
    }
  }

  /**
   * Delete `name`: first a tombstone, a new version whose definition is
   * {@link WORKLOAD_TOMBSTONE}, deleted and authenticated like any row; then every live version
   * marked deleted, each with a new MAC over the mark when its old one authenticates. One that
   * does not is marked but keeps its bad MAC: a deleted version is never used, and a new MAC would
   * bless whatever was written into it (the history would show it as the operator's).
   *
   * The tombstone is what makes the deletion stick: the marks alone could be undone by a database
   * writer who kept a row's MAC from before the delete and writes the row back (it authenticates:
   * it is the row as the KBS once wrote it). With the tombstone as the newest version the name
   * stays deleted whatever older rows say; undoing it takes removing the tombstone, the same power
   * as removing a newest version, which makes the previous one current (`workload-mac.ts`).
   *
   * The tombstone, the marks and the audit entry `changed` (appended whenever a tombstone is
   * written, so no write goes unaudited) are one write: SQLite's IMMEDIATE transaction, PostgreSQL's data-modifying `WITH`
   * (the live versions and the highest number are read first; a concurrent writer that took the
   * number makes it read again). An entry that cannot be appended leaves the name as it was.
   *
   * A name deleted before tombstones (its newest row marked deleted, no tombstone) gets one when
   * it is deleted again: that delete writes, so it answers `true` and is audited; the next answers
   * `false` and writes nothing.
   *
   * @returns whether anything was written (a live version deleted, or a missing tombstone added).
   */
  async delete(name: string, now: Date, changed?: AuditEntryInput): Promise<boolean> {
    checkName(name)
    const deletedAt = now.toISOString()
    const write = this.#write
    const atomic = this.#atomic
    const values = changed === undefined ? undefined : auditValues(changed)
    /** A tombstone, unless the newest row is one already (a name deleted before tombstones). */
    const needsTombstone = (newest: WorkloadVersionTable | undefined): boolean =>
      newest !== undefined && newest.definition !== WORKLOAD_TOMBSTONE
    if (atomic !== undefined) {
      return atomic.run((execute) => {
        const live = write.live.rowsWith(execute, name)
        if (live.length === 0 && !needsTombstone(this.#get.rowsWith(execute, name)[0])) return false
        const version = nextVersion(write.newest.rowsWith(execute, name))
        this.#insertWith(
          execute,
          this.#versionArgs(name, version, WORKLOAD_TOMBSTONE, deletedAt, now),
        )
        for (const { version: markedVersion, mac } of this.#marks(live, deletedAt))
          write.mark.affectedWith(execute, deletedAt, mac, name, markedVersion)
        if (values !== undefined) write.append.affectedWith(execute, ...values)
        return true
      })
    }
    return retryingVersion(async () => {
      const live = await write.live.rows(name)
      if (live.length === 0 && !needsTombstone((await this.#get.rows(name))[0])) return false
      const version = nextVersion(await write.newest.rows(name))
      const args = [
        ...this.#versionArgs(name, version, WORKLOAD_TOMBSTONE, deletedAt, now),
        JSON.stringify(this.#marks(live, deletedAt)),
      ]
      if (values === undefined) await write.deleteJoined(false).rows(...args)
      else await write.deleteJoined(true).rows(...args, ...values)
      return true
    })
  }

  /** A row as a workload, after its MAC is checked (`ERR_KBS_WORKLOAD_INTEGRITY` if not). */
  #stored(row: WorkloadVersionTable): StoredWorkload {
    this.#mac.check(row)
    return toStored(row)
  }

  /**
   * Every version of `name`, oldest first, deleted ones included, tombstones left out. Each row
   * is checked on its own: one that does not authenticate is listed as unusable (why, never its
   * definition), so one changed row does not hide the rest of the history.
   */
  async history(name: string): Promise<readonly (WorkloadVersion | UnusableWorkloadVersion)[]> {
    checkName(name)
    const rows = await this.#db
      .selectFrom('workload_version')
      .select(COLUMNS)
      .where('name', '=', name)
      .orderBy('version')
      .execute()
    const deleted = (row: WorkloadVersionTable): { deletedAt?: string } =>
      row.deleted_at === null ? {} : { deletedAt: row.deleted_at }
    return rows.flatMap((row) => {
      // An authentic tombstone: the deletion, which the versions' deletedAt already show. (The
      // MAC covers the empty definition, so a tombstone cannot pass for a definition or back.)
      if (row.definition === WORKLOAD_TOMBSTONE && this.#mac.authenticates(row)) return []
      return [{ ...this.#checked(row), ...deleted(row) }]
    })
  }
}

/** The version after the highest one read (1 for a new name). */
function nextVersion(rows: readonly { readonly version: number | null }[]): number {
  return (rows[0]?.version ?? 0) + 1
}

function insertedRow(row: WorkloadVersionTable | undefined): WorkloadVersionTable {
  if (row === undefined)
    throw new InternalError('ERR_KBS_WORKLOAD_STORED', 'the workload insert returned no row')
  return row
}

/**
 * `attempt` again while a concurrent writer took the version number it read (PostgreSQL, where
 * two writers may read the same highest version), at most {@link PUT_ATTEMPTS} times.
 */
async function retryingVersion<T>(attempt: () => Promise<T>): Promise<T> {
  for (let count = 1; ; count++) {
    try {
      return await attempt()
    } catch (error) {
      if (count >= PUT_ATTEMPTS || !isUniqueViolation(error)) throw error
    }
  }
}

/** The write statements, compiled once (see {@link WriteStatements}). */
function writeStatements(db: Kysely<KbsDatabase>, executor: RawExecutor): WriteStatements {
  const insert = db
    .insertInto('workload_version')
    .values({
      name: param(0),
      version: param(1),
      definition: param(2),
      deleted_at: param(3),
      created_at: param(4),
      mac: param(5),
    })
    .returning(COLUMNS)
  const joined = <Row>(text: ReturnType<typeof sql<Row>>) =>
    new HotStatement<Row>(executor, compilable(db, text))
  // The tombstone (the insert's arguments), then every live version marked from the marks
  // (argument 6, JSON [{version, mac}]); the same snapshot, so the tombstone is not marked again.
  const deleteJoined = (audited: boolean) =>
    joined<{ readonly marked: unknown }>(
      sql`WITH tombstone AS (${insert}),
        marked AS (
          UPDATE workload_version AS w SET deleted_at = CAST(${param(3)} AS text), mac = m.mac
          FROM jsonb_to_recordset(CAST(${param(INSERT_ARGUMENTS)} AS jsonb))
            AS m(version integer, mac text)
          WHERE w.name = CAST(${param(0)} AS text) AND w.version = m.version
            AND w.deleted_at IS NULL
          RETURNING w.version
        )${audited ? sql`, logged AS (${auditInsertFrom('tombstone', DELETE_ARGUMENTS)})` : sql``}
        SELECT count(*) AS marked FROM marked`,
    )
  const deletePlain = executor.atomic === undefined ? deleteJoined(false) : undefined
  const deleteAudited = executor.atomic === undefined ? deleteJoined(true) : undefined
  return {
    newest: new HotStatement(
      executor,
      db
        .selectFrom('workload_version')
        .select((eb) => eb.fn.max('version').as('version'))
        .where('name', '=', param(0)),
    ),
    live: new HotStatement(
      executor,
      db
        .selectFrom('workload_version')
        .select(['name', 'version', 'definition', 'deleted_at', 'mac'])
        .where('name', '=', param(0))
        .where('deleted_at', 'is', null),
    ),
    insert: new HotStatement(executor, insert),
    mark: new HotStatement(
      executor,
      db
        .updateTable('workload_version')
        .set({ deleted_at: param(0), mac: param(1) })
        .where('name', '=', param(2))
        .where('version', '=', param(3))
        .where('deleted_at', 'is', null),
    ),
    append: new HotStatement(executor, auditInsert(db)),
    insertAudited: joined<WorkloadVersionTable>(
      sql`WITH added AS (${insert}),
        logged AS (${auditInsertFrom('added', INSERT_ARGUMENTS)})
        SELECT * FROM added`,
    ),
    deleteJoined: (audited) => {
      const statement = audited ? deleteAudited : deletePlain
      if (statement === undefined)
        throw new InternalError('ERR_KBS_HOT_STATEMENT', 'a joined delete runs on PostgreSQL only')
      return statement
    },
  }
}

/** A primary key or unique constraint refused the row (PostgreSQL's 23505, SQLite's code). */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { readonly code?: unknown } | null)?.code
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY'
}

function checkName(name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw new UsageError(
      'ERR_KBS_WORKLOAD_NAME',
      `"${name.slice(0, 200)}" is not a workload name`,
      {
        hint: 'use 1 to 128 letters, digits, _, - and . (not first)',
      },
    )
  }
}

function toStored(row: WorkloadVersionTable): StoredWorkload {
  let definition: unknown
  try {
    definition = JSON.parse(row.definition)
  } catch (error) {
    throw new InternalError(
      'ERR_KBS_WORKLOAD_STORED',
      `the stored workload ${row.name} v${String(row.version)} is not JSON`,
      { cause: error },
    )
  }
  return { name: row.name, version: row.version, definition, updatedAt: row.created_at }
}

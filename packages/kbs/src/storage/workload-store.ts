/**
 * Workloads, versioned: every `put` adds version n+1 of the name (history kept); `delete` marks
 * every version of the name deleted (kept, hidden); a later `put` continues the numbering.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import { InternalError, UsageError, isInitguardError } from '@initguard/core'
import type {
  StoredWorkload,
  UnauthenticatedWorkload,
  UnusableWorkload,
  WorkloadStore,
} from '../ports.ts'
import { HotStatement, param } from './hot-statement.ts'
import type { RawExecutor } from './hot-statement.ts'
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

/** {@link WorkloadStore} over kysely, plus the history of a name. */
export class SqlWorkloadStore implements WorkloadStore {
  readonly #db: Kysely<KbsDatabase>
  /** Every appraisal lists, and may get: run prepared (`hot-statement.ts`). */
  readonly #get: HotStatement<WorkloadVersionTable>
  readonly #list: HotStatement<WorkloadVersionTable>
  /** Every row read is checked against it; every row written carries it. */
  readonly #mac: WorkloadMac

  constructor(db: Kysely<KbsDatabase>, executor: RawExecutor, mac: WorkloadMac) {
    this.#db = db
    this.#mac = mac
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

  async put(name: string, definition: unknown, now: Date): Promise<StoredWorkload> {
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
    return this.#stored(await this.#insertNext(name, json, null, now))
  }

  /**
   * Insert version n+1 of `name` with its MAC. The next version is read, then inserted; the
   * primary key refuses a concurrent writer that took the same number (SQLite runs one writer at
   * a time; on PostgreSQL two may read the same max), and the loser takes the next one.
   */
  async #insertNext(
    name: string,
    definition: string,
    deletedAt: string | null,
    now: Date,
  ): Promise<WorkloadVersionTable> {
    for (let attempt = 1; ; attempt++) {
      const newest = await this.#db
        .selectFrom('workload_version')
        .select((eb) => eb.fn.max('version').as('version'))
        .where('name', '=', name)
        .executeTakeFirst()
      const fields = {
        name,
        version: (newest?.version ?? 0) + 1,
        definition,
        deleted_at: deletedAt,
      }
      try {
        return await this.#db
          .insertInto('workload_version')
          .values({ ...fields, created_at: now.toISOString(), mac: this.#mac.of(fields) })
          .returning(COLUMNS)
          .executeTakeFirstOrThrow()
      } catch (error) {
        if (attempt >= PUT_ATTEMPTS || !isUniqueViolation(error)) throw error
      }
    }
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
   * as removing a newest version, which makes the previous one current (`workload-mac.ts`). The
   * tombstone goes first, so a delete cut short leaves the name deleted.
   *
   * A name deleted before tombstones (its newest row marked deleted, no tombstone) gets one when
   * it is deleted again, which otherwise changes nothing and answers `false`.
   */
  async delete(name: string, now: Date): Promise<boolean> {
    checkName(name)
    const deletedAt = now.toISOString()
    const live = await this.#db
      .selectFrom('workload_version')
      .select(['name', 'version', 'definition', 'deleted_at', 'mac'])
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .execute()
    if (live.length === 0) {
      const [newest] = await this.#get.rows(name)
      if (newest !== undefined && newest.definition !== WORKLOAD_TOMBSTONE)
        await this.#insertNext(name, WORKLOAD_TOMBSTONE, deletedAt, now)
      return false
    }
    await this.#insertNext(name, WORKLOAD_TOMBSTONE, deletedAt, now)
    let marked = 0
    for (const row of live) {
      const mac = this.#mac.authenticates(row)
        ? this.#mac.of({ ...row, deleted_at: deletedAt })
        : row.mac
      const result = await this.#db
        .updateTable('workload_version')
        .set({ deleted_at: deletedAt, mac })
        .where('name', '=', name)
        .where('version', '=', row.version)
        .where('deleted_at', 'is', null)
        .executeTakeFirst()
      marked += Number(result.numUpdatedRows)
    }
    return marked > 0
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

/**
 * Workloads, versioned: every `put` adds version n+1 of the name (history kept); `delete` marks
 * every version of the name deleted (kept, hidden); a later `put` continues the numbering.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import { InternalError, UsageError } from '@initguard/core'
import type { StoredWorkload, WorkloadStore } from '../ports.ts'
import type { KbsDatabase, WorkloadVersionTable } from './schema.ts'

/** One version of a workload, with when it was deleted (history view). */
export interface WorkloadVersion extends StoredWorkload {
  /** ISO 8601, when the name was deleted while this version existed. */
  readonly deletedAt?: string
}

/** How often a put retries after losing the version number to a concurrent writer. */
const PUT_ATTEMPTS = 50

const NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/

/** {@link WorkloadStore} over kysely, plus the history of a name. */
export class SqlWorkloadStore implements WorkloadStore {
  readonly #db: Kysely<KbsDatabase>

  constructor(db: Kysely<KbsDatabase>) {
    this.#db = db
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
    // One statement computes the next version and inserts it, so two writers cannot both take n+1
    // (the primary key refuses the loser instead of silently sharing a version).
    const next = this.#db
      .selectFrom('workload_version')
      .select((eb) => [
        // Typed casts: PostgreSQL cannot infer a parameter's type in a select list.
        eb.cast<string>(eb.val(name), 'text').as('name'),
        eb(eb.fn.coalesce(eb.fn.max('version'), eb.lit(0)), '+', 1).as('version'),
        eb.cast<string>(eb.val(json), 'text').as('definition'),
        eb.cast<string>(eb.val(now.toISOString()), 'text').as('created_at'),
      ])
      .where('name', '=', name)
    const insert = this.#db
      .insertInto('workload_version')
      .columns(['name', 'version', 'definition', 'created_at'])
      .expression(next)
      .returningAll()
    // SQLite runs one writer at a time; on PostgreSQL two writers may read the same max: the
    // loser's insert is refused and it takes the next number.
    for (let attempt = 1; ; attempt++) {
      try {
        return toStored(await insert.executeTakeFirstOrThrow())
      } catch (error) {
        if (attempt >= PUT_ATTEMPTS || !isUniqueViolation(error)) throw error
      }
    }
  }

  async get(name: string): Promise<StoredWorkload | undefined> {
    checkName(name)
    const row = await this.#db
      .selectFrom('workload_version')
      .selectAll()
      .where('name', '=', name)
      .orderBy('version', 'desc')
      .limit(1)
      .executeTakeFirst()
    // The newest version carries the deletion mark when the name is deleted.
    return row?.deleted_at !== null ? undefined : toStored(row)
  }

  async list(): Promise<readonly StoredWorkload[]> {
    const rows = await this.#db
      .selectFrom('workload_version as w')
      .selectAll('w')
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
      .orderBy('w.name')
      .execute()
    return rows.map(toStored)
  }

  async delete(name: string, now: Date): Promise<boolean> {
    checkName(name)
    const result = await this.#db
      .updateTable('workload_version')
      .set({ deleted_at: now.toISOString() })
      .where('name', '=', name)
      .where('deleted_at', 'is', null)
      .executeTakeFirst()
    return result.numUpdatedRows > 0n
  }

  /** Every version of `name`, oldest first, deleted ones included. */
  async history(name: string): Promise<readonly WorkloadVersion[]> {
    checkName(name)
    const rows = await this.#db
      .selectFrom('workload_version')
      .selectAll()
      .where('name', '=', name)
      .orderBy('version')
      .execute()
    return rows.map((row) => ({
      ...toStored(row),
      ...(row.deleted_at === null ? {} : { deletedAt: row.deleted_at }),
    }))
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

/**
 * The queries every handshake runs, built once with kysely's builder (so they stay
 * dialect-neutral) and then run straight on the driver: SQLite's cached prepared statement,
 * PostgreSQL's named prepared statement. kysely's per-query pipeline (building, compiling, its
 * async driver layers) was about 1.4 ms of CPU per handshake; migrations and admin paths keep it.
 *
 * A query is built with {@link param} markers where its arguments go; compiling it once gives the
 * SQL text and, for each placeholder, either an argument's index or a constant the query fixed.
 *
 * @module
 */
import type { CompiledQuery, Compilable } from 'kysely'
import { InternalError } from '@initguard/core'

/** What the driver returned: rows (for a query or RETURNING) and how many rows changed. */
export interface RawResult {
  readonly rows: readonly Readonly<Record<string, unknown>>[]
  readonly affectedRows: number
}

/** Runs compiled SQL on the dialect's own driver, bypassing kysely. */
export interface RawExecutor {
  execute(sql: string, values: readonly unknown[]): Promise<RawResult>
}

const MARKER = '\u0000initguard-hot-parameter-'

/**
 * The marker for argument `index`. Typed `never` so the builder takes it for any column; the
 * caller passes the real value, of the column's type, to `rows`/`affected`.
 */
export function param(index: number): never {
  return `${MARKER}${String(index)}` as never
}

/** A compiled query and where its arguments go. */
export class HotStatement<Row> {
  readonly #executor: RawExecutor
  readonly #sql: string
  /** Per placeholder: the argument index, or a constant the query fixed. */
  readonly #slots: readonly ({ readonly arg: number } | { readonly constant: unknown })[]

  constructor(executor: RawExecutor, query: Compilable<Row>) {
    const compiled: CompiledQuery<Row> = query.compile()
    this.#executor = executor
    this.#sql = compiled.sql
    this.#slots = compiled.parameters.map((value) =>
      typeof value === 'string' && value.startsWith(MARKER)
        ? { arg: Number(value.slice(MARKER.length)) }
        : { constant: value },
    )
  }

  /** Run with `args` in marker order; the rows, typed as the builder said. */
  async rows(...args: readonly unknown[]): Promise<Row[]> {
    return (await this.run(args)).rows as Row[]
  }

  /** Run with `args`; how many rows were inserted, updated or deleted. */
  async affected(...args: readonly unknown[]): Promise<number> {
    return (await this.run(args)).affectedRows
  }

  private run(args: readonly unknown[]): Promise<RawResult> {
    const values = this.#slots.map((slot) => {
      if ('constant' in slot) return slot.constant
      if (slot.arg >= args.length) {
        throw new InternalError(
          'ERR_KBS_HOT_STATEMENT',
          `a prepared query needs argument ${String(slot.arg)} of ${String(args.length)}`,
        )
      }
      return args[slot.arg]
    })
    return this.#executor.execute(this.#sql, values)
  }
}

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

/** Runs one compiled statement synchronously (inside {@link AtomicRunner.run}). */
export type SyncExecute = (sql: string, values: readonly unknown[]) => RawResult

/** Runs several statements as one write transaction, synchronously (SQLite's driver). */
export interface AtomicRunner {
  /** `work` inside one IMMEDIATE transaction; a throw rolls back every statement it ran. */
  run<T>(work: (execute: SyncExecute) => T): Promise<T>
}

/** Runs compiled SQL on the dialect's own driver, bypassing kysely. */
export interface RawExecutor {
  execute(sql: string, values: readonly unknown[]): Promise<RawResult>
  /**
   * Present where several statements can run as one transaction without a round trip each
   * (SQLite, in process). Without it (PostgreSQL), a store joins them into one statement (a
   * data-modifying `WITH`), which is atomic and one round trip.
   */
  readonly atomic?: AtomicRunner
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

  /** Run synchronously with `execute` (inside {@link AtomicRunner.run}); the rows. */
  rowsWith(execute: SyncExecute, ...args: readonly unknown[]): Row[] {
    return execute(this.#sql, this.#values(args)).rows as Row[]
  }

  /** Run synchronously with `execute`; how many rows changed. */
  affectedWith(execute: SyncExecute, ...args: readonly unknown[]): number {
    return execute(this.#sql, this.#values(args)).affectedRows
  }

  private run(args: readonly unknown[]): Promise<RawResult> {
    return this.#executor.execute(this.#sql, this.#values(args))
  }

  #values(args: readonly unknown[]): unknown[] {
    return this.#slots.map((slot) => {
      if ('constant' in slot) return slot.constant
      if (slot.arg >= args.length) {
        throw new InternalError(
          'ERR_KBS_HOT_STATEMENT',
          `a prepared query needs argument ${String(slot.arg)} of ${String(args.length)}`,
        )
      }
      return args[slot.arg]
    })
  }
}

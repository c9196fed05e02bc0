/**
 * The database's availability, in one place: every store call of a running KBS goes through
 * {@link guardStoreAvailability}, which turns a driver's "cannot reach the database" into
 * {@link UnavailableError} `ERR_KBS_STORE_UNAVAILABLE` (503 with `Retry-After`, never 500) and
 * bounds each call by a deadline (`ERR_KBS_STORE_TIMEOUT`), so a request never hangs on a database
 * that does not answer. Nothing is kept across calls: when the database is back, the next call
 * works (the driver's pool reconnects on demand).
 *
 * @module
 */
import { UnavailableError, isInitguardError } from '@initguard/core'
import type { KbsStore } from '../ports.ts'

/** The longest a store call may take before the request is answered 503. */
export const STORE_CALL_DEADLINE_MS = 5000

/** Node's socket errors that mean the server is not there (or went away). */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
])

/**
 * SQLSTATEs that say "not now" rather than "wrong": connection exceptions (08000, 08001, 08003,
 * 08004, 08006; not 08P01, a protocol violation, which is a bug on one side), shutdown
 * and start-up (57P01…57P05), a cancelled (timed-out) statement, too many connections or other
 * resources (class 53), a read-only standby after a failover, and serialization failures.
 */
const UNAVAILABLE_SQLSTATE = /^(0800[01346]|57P0[1-5]|57014|53...|25006|40001|40P01)$/

/** SQLite's "another process holds the lock" after the busy timeout. */
const SQLITE_CODES = /^SQLITE_(BUSY|LOCKED)(_[A-Z]+)?$/

/** node-postgres's own errors carry no code, only these messages. */
const PG_CONNECTION_MESSAGES =
  /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/

/** Whether `error`, thrown by a database driver, means the database cannot be reached now. */
export function isDatabaseUnavailable(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false
  const { code, message, errors } = error as { code?: unknown; message?: unknown; errors?: unknown }
  if (typeof code === 'string') {
    if (NETWORK_CODES.has(code) || SQLITE_CODES.test(code) || UNAVAILABLE_SQLSTATE.test(code))
      return true
  }
  if (typeof message === 'string' && PG_CONNECTION_MESSAGES.test(message)) return true
  // A connection attempt to several addresses fails with all of them.
  return Array.isArray(errors) && errors.length > 0 && errors.every(isDatabaseUnavailable)
}

/** The error a request gets when the database cannot be reached. */
export function storeUnavailableError(cause: unknown): UnavailableError {
  const code = (cause as { code?: unknown } | null)?.code
  return new UnavailableError(
    'ERR_KBS_STORE_UNAVAILABLE',
    `the KBS database cannot be reached now${typeof code === 'string' ? ` (${code.slice(0, 40)})` : ''}; retry shortly`,
    {
      cause,
      hint: 'clients: retry after the Retry-After delay; operators: check the database (GET /readyz)',
    },
  )
}

/** `work`, with driver unavailability mapped and a deadline of `deadlineMs`. */
export async function withStoreDeadline<T>(work: Promise<T>, deadlineMs: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => {
      reject(
        new UnavailableError(
          'ERR_KBS_STORE_TIMEOUT',
          `the KBS database did not answer within ${String(deadlineMs)} ms; retry shortly`,
          { hint: 'operators: check the database and its load (GET /readyz)' },
        ),
      )
    }, deadlineMs)
  })
  try {
    return await Promise.race([work, deadline])
  } catch (error) {
    throw !isInitguardError(error) && isDatabaseUnavailable(error)
      ? storeUnavailableError(error)
      : error
  } finally {
    clearTimeout(timer)
  }
}

/** `target` with every method's promise passed through {@link withStoreDeadline}. */
function guarded<T extends object>(target: T, deadlineMs: number): T {
  return new Proxy(target, {
    get(object, property) {
      const value: unknown = Reflect.get(object, property, object)
      if (typeof value !== 'function') return value
      return (...args: unknown[]): unknown => {
        const result: unknown = Reflect.apply(value, object, args)
        return result instanceof Promise ? withStoreDeadline(result, deadlineMs) : result
      }
    },
  })
}

/**
 * `store` as the routes should see it: each call bounded by `deadlineMs` and a database that
 * cannot be reached reported as {@link UnavailableError}. `close()` is passed through unbounded.
 */
export function guardStoreAvailability(
  store: KbsStore,
  deadlineMs: number = STORE_CALL_DEADLINE_MS,
): KbsStore {
  return {
    resources: guarded(store.resources, deadlineMs),
    workloads: guarded(store.workloads, deadlineMs),
    audit: guarded(store.audit, deadlineMs),
    sessions: guarded(store.sessions, deadlineMs),
    signingKeys: guarded(store.signingKeys, deadlineMs),
    ping: () => withStoreDeadline(store.ping(), deadlineMs),
    close: () => store.close(),
  }
}

/**
 * `check` run at most once per `ttlMs`: callers while a run is under way share it, and its
 * outcome (success or failure) answers for `ttlMs` after it settles. For `/readyz`, which anyone
 * may call as often as they like: the database sees one query per interval per replica.
 *
 * @param now a monotonic clock in ms (default `performance.now`).
 */
export function sharedCheck(
  check: () => Promise<void>,
  ttlMs: number,
  now: () => number = () => performance.now(),
): () => Promise<void> {
  let current: { readonly result: Promise<void>; settledAt?: number } | undefined
  return () => {
    const settledAt = current?.settledAt
    if (current === undefined || (settledAt !== undefined && now() - settledAt >= ttlMs)) {
      const run: { readonly result: Promise<void>; settledAt?: number } = {
        result: check().finally(() => {
          run.settledAt = now()
        }),
      }
      // Handled here too: a failure nobody asks about again must not be an unhandled rejection.
      run.result.catch(() => undefined)
      current = run
    }
    return current.result
  }
}

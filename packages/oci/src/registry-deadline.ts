/**
 * How long a registry request may take in all. The HTTP client's timeout bounds only each stall,
 * so a registry sending a byte just before every stall timeout would hold a request for ever (a
 * 4 MiB manifest at one byte every 29 s is four years). Every request the registry client makes
 * therefore has a total deadline: a base time plus the largest body it may move at the slowest
 * rate accepted, so a large layer on a slow link still gets time in proportion to its size.
 *
 * @module
 */
import { UnavailableError, UsageError, type ErrorDetails } from '@initguard/core'

/**
 * How long one registry request may take in all, attempts and their waits included:
 * `baseMs + bytes / minBytesPerSecond`, where `bytes` is the blob's size for a blob download and
 * the body limit (manifest, tag list, upload) plus the allowance for a token answer and an error
 * body ({@link ANSWER_ALLOWANCE_BYTES}) for every other request.
 */
export interface BlobDeadline {
  /**
   * Time allowed whatever the size (connecting, redirects, retries); default
   * {@link DEFAULT_BLOB_DEADLINE_BASE_MS}.
   */
  readonly baseMs?: number
  /**
   * Slowest average rate accepted over the whole body, in bytes per second; default
   * {@link DEFAULT_BLOB_MIN_BYTES_PER_SECOND}.
   */
  readonly minBytesPerSecond?: number
}

/** Default time a registry request gets whatever its size: 60 s. */
export const DEFAULT_BLOB_DEADLINE_BASE_MS = 60_000

/**
 * Default slowest average rate of a registry request: 32 KiB/s (256 kbit/s), low enough for a
 * slow link shared by the three downloads a pull runs at once; a 1 GiB layer gets 9 hours, a
 * 4 MiB manifest (with {@link ANSWER_ALLOWANCE_BYTES}) 222 s.
 */
export const DEFAULT_BLOB_MIN_BYTES_PER_SECOND: number = 32 * 1024

/** The largest token answer read: 1 MiB (real ones are a few KiB). */
export const MAX_TOKEN_RESPONSE_BYTES: number = 1024 * 1024

/** The most of an error body read for the registry's error codes: 64 KiB. */
export const MAX_ERROR_BODY_BYTES: number = 64 * 1024

/**
 * What every request that is not a blob download may read besides its own body: a token answer
 * (when the registry challenges it) and an error body.
 */
export const ANSWER_ALLOWANCE_BYTES: number = MAX_TOKEN_RESPONSE_BYTES + MAX_ERROR_BODY_BYTES

/** The longest timer Node keeps (2^31 − 1 ms, about 24.8 days); longer deadlines are cut to it. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * The deadline, in milliseconds, of moving a body of `size` bytes.
 *
 * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION` unless `baseMs` and
 *   `minBytesPerSecond` are finite numbers above 0.
 */
export function blobDeadlineMs(size: number, deadline: BlobDeadline = {}): number {
  const settings = deadlineSettings(deadline)
  return Math.min(MAX_TIMER_MS, settings.baseMs + (size * 1000) / settings.minBytesPerSecond)
}

/**
 * `deadline` with its defaults, each checked.
 *
 * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION`, as {@link blobDeadlineMs}.
 */
export function deadlineSettings(deadline: BlobDeadline = {}): Required<BlobDeadline> {
  const settings = {
    baseMs: deadline.baseMs ?? DEFAULT_BLOB_DEADLINE_BASE_MS,
    minBytesPerSecond: deadline.minBytesPerSecond ?? DEFAULT_BLOB_MIN_BYTES_PER_SECOND,
  }
  for (const [name, value] of Object.entries(settings)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new UsageError(
        'ERR_REGISTRY_BLOB_DEADLINE_OPTION',
        `registry deadline: ${name} must be a finite number above 0, not ${String(value)}`,
        {
          details: { option: name, value: String(value) },
          hint: `give ${name} as a positive number, or leave it out for the default`,
        },
      )
    }
  }
  return settings
}

/** The numbers behind a deadline that passed, for its coded error. */
export interface DeadlineNumbers {
  readonly deadlineMs: number
  readonly baseMs: number
  readonly minBytesPerSecond: number
}

/**
 * Run `work` within the deadline of moving `bytes` bytes ({@link blobDeadlineMs}), following the
 * caller's `signal` too: `work` gets the signal that aborts at whichever comes first, and hands it
 * to every request it makes (a token request included). When the deadline itself passed (not the
 * caller's signal: a cancellation stays a cancellation), whatever `work` threw is the cause of the
 * one error thrown, `passed(numbers, cause)`. The timer is cleared however `work` ends.
 *
 * The one place a registry deadline is started, joined to the caller's signal, mapped to its coded
 * error and cleared: a request's deadline ({@link requestDeadlineError}) and a blob download's
 * ({@link blobDeadlineError}) differ only in the bytes and the error.
 *
 * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION` for malformed settings, before
 *   `work` runs; what `passed` returns; else what `work` throws.
 */
export async function withinDeadline<T>(
  bytes: number,
  settings: BlobDeadline | undefined,
  signal: AbortSignal | undefined,
  work: (signal: AbortSignal) => Promise<T>,
  passed: (numbers: DeadlineNumbers, cause: unknown) => Error,
): Promise<T> {
  const { baseMs, minBytesPerSecond } = deadlineSettings(settings)
  const deadlineMs = blobDeadlineMs(bytes, { baseMs, minBytesPerSecond })
  const expiry = new AbortController()
  const timer = setTimeout(() => {
    expiry.abort(new Error(`the deadline of ${deadlineMs} ms passed`))
  }, deadlineMs)
  try {
    return await work(
      signal === undefined ? expiry.signal : AbortSignal.any([signal, expiry.signal]),
    )
  } catch (error) {
    if (!expiry.signal.aborted || signal?.aborted === true) throw error
    throw passed({ deadlineMs, baseMs, minBytesPerSecond }, error)
  } finally {
    clearTimeout(timer)
  }
}

/**
 * The coded error of a deadline that passed: what arrived in the time allowed, and how the time
 * was reckoned, with the option to change on a link known to be this slow.
 */
function passedError(
  code: 'ERR_REGISTRY_DEADLINE' | 'ERR_REGISTRY_BLOB_DEADLINE',
  message: { readonly what: string; readonly arrived: string; readonly reckoned: string },
  option: 'blobDeadline' | 'deadline',
  details: ErrorDetails,
  numbers: DeadlineNumbers,
  cause: unknown,
): UnavailableError {
  const { what, arrived, reckoned } = message
  const { deadlineMs, baseMs, minBytesPerSecond } = numbers
  return new UnavailableError(
    code,
    `cannot ${what}: ${arrived} within the ${deadlineMs} ms allowed (${baseMs} ms, and ${minBytesPerSecond} bytes/s for ${reckoned})`,
    {
      cause,
      details,
      hint: `the registry or the network is too slow, or stalls on purpose; on a link known to be this slow, lower ${option}.minBytesPerSecond or raise ${option}.baseMs`,
    },
  )
}

/**
 * The coded error of a registry request (not a blob download) whose deadline passed: `bytes` is
 * what the deadline was given for, the request's body limit with {@link ANSWER_ALLOWANCE_BYTES}.
 *
 * @returns {@link UnavailableError} `ERR_REGISTRY_DEADLINE`.
 */
export function requestDeadlineError(
  what: string,
  url: string,
  bytes: number,
  numbers: DeadlineNumbers,
  cause: unknown,
): UnavailableError {
  return passedError(
    'ERR_REGISTRY_DEADLINE',
    { what, arrived: 'no complete answer', reckoned: `up to ${bytes} bytes` },
    'blobDeadline',
    { url, ...numbers, bytes },
    numbers,
    cause,
  )
}

/**
 * The coded error of a blob download whose deadline (from the blob's size) passed, `received` of
 * its bytes having arrived.
 *
 * @returns {@link UnavailableError} `ERR_REGISTRY_BLOB_DEADLINE`.
 */
export function blobDeadlineError(
  what: string,
  blob: { readonly digest: string; readonly size: number },
  received: number,
  numbers: DeadlineNumbers,
  cause: unknown,
): UnavailableError {
  return passedError(
    'ERR_REGISTRY_BLOB_DEADLINE',
    { what, arrived: `${received} of ${blob.size} bytes arrived`, reckoned: 'its size' },
    'deadline',
    { digest: blob.digest, size: blob.size, received, ...numbers },
    numbers,
    cause,
  )
}

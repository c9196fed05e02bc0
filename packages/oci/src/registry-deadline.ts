/**
 * How long a registry request may take in all. The HTTP client's timeout bounds only each stall,
 * so a registry sending a byte just before every stall timeout would hold a request for ever (a
 * 4 MiB manifest at one byte every 29 s is four years). Every request the registry client makes
 * therefore has a total deadline: a base time plus the largest body it may move at the slowest
 * rate accepted, so a large layer on a slow link still gets time in proportion to its size.
 *
 * @module
 */
import { UnavailableError, UsageError } from '@initguard/core'

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

/** A running deadline: a signal that aborts when it passes, and the numbers behind it. */
export interface RunningDeadline {
  readonly signal: AbortSignal
  readonly deadlineMs: number
  readonly baseMs: number
  readonly minBytesPerSecond: number
  /** Whether the deadline passed (not the caller's signal). */
  readonly passed: () => boolean
  /** Stop the timer. */
  readonly clear: () => void
}

/**
 * Start the deadline of moving `bytes` bytes, following the caller's `signal` too.
 *
 * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION` for malformed settings.
 */
export function startDeadline(
  bytes: number,
  deadline: BlobDeadline | undefined,
  signal: AbortSignal | undefined,
): RunningDeadline {
  const { baseMs, minBytesPerSecond } = deadlineSettings(deadline)
  const deadlineMs = blobDeadlineMs(bytes, { baseMs, minBytesPerSecond })
  const expiry = new AbortController()
  const timer = setTimeout(() => {
    expiry.abort(new Error(`the deadline of ${deadlineMs} ms passed`))
  }, deadlineMs)
  return {
    signal: signal === undefined ? expiry.signal : AbortSignal.any([signal, expiry.signal]),
    deadlineMs,
    baseMs,
    minBytesPerSecond,
    passed: () => expiry.signal.aborted && signal?.aborted !== true,
    clear: () => {
      clearTimeout(timer)
    },
  }
}

/**
 * The coded error of a registry request (not a blob download) whose deadline passed.
 *
 * @returns {@link UnavailableError} `ERR_REGISTRY_DEADLINE`.
 */
export function requestDeadlineError(
  what: string,
  url: string,
  bytes: number,
  running: RunningDeadline,
  cause: unknown,
): UnavailableError {
  const { deadlineMs, baseMs, minBytesPerSecond } = running
  return new UnavailableError(
    'ERR_REGISTRY_DEADLINE',
    `cannot ${what}: no complete answer within the ${deadlineMs} ms allowed (${baseMs} ms, and ${minBytesPerSecond} bytes/s for up to ${bytes} bytes)`,
    {
      cause,
      details: { url, deadlineMs, baseMs, minBytesPerSecond, bytes },
      hint: 'the registry or the network is too slow, or stalls on purpose; on a link known to be this slow, lower blobDeadline.minBytesPerSecond or raise blobDeadline.baseMs',
    },
  )
}

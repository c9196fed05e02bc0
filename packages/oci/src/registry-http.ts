/**
 * HTTP plumbing for the registry client: deadlines that cover waiting for headers and every stall
 * while a body streams, bounded retries with exponential backoff and jitter that honour
 * `Retry-After`, redirects followed by hand (so `Authorization` never reaches another origin and
 * https is never downgraded), and coded errors that name the URL without its query or credentials.
 *
 * @module
 */
import {
  ExpectationError,
  MalformedInputError,
  InitguardError,
  UnavailableError,
  type ErrorDetails,
} from '@initguard/core'
import { hopelessNetworkFailure } from '@initguard/http'

/** Network settings of the registry client. */
export interface RegistryHttpOptions {
  /** Longest wait for response headers, and longest stall while a body streams; default 30 s. */
  readonly timeoutMs?: number
  /** Attempts per request, including the first; default 4. */
  readonly attempts?: number
  /** First backoff delay; doubles on each retry, with jitter; default 500 ms. */
  readonly backoffMs?: number
  /** Longest `Retry-After` honoured; default 60 s (longer waits are cut to this). */
  readonly maxRetryAfterMs?: number
  /** The fetch implementation; default the global one. */
  readonly fetch?: typeof fetch
  /** How to wait between attempts; default a timer. */
  readonly sleep?: (ms: number) => Promise<void>
  /** `User-Agent` header; default `initguard`. */
  readonly userAgent?: string
}

/** A URL as messages and details show it: no user info, no query (which may hold signatures). */
export function safeUrl(url: URL | string): string {
  const u = new URL(url)
  return `${u.protocol}//${u.host}${u.pathname}`
}

/**
 * An abort signal that fires after `ms` without progress: `touch()` restarts the clock (call it per
 * chunk), `clear()` stops it. Linked to an outer signal so a batch can cancel its downloads.
 */
export class Deadline {
  readonly #controller = new AbortController()
  readonly #ms: number
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(ms: number, outer?: AbortSignal) {
    this.#ms = ms
    if (outer !== undefined) {
      if (outer.aborted) this.#controller.abort(outer.reason)
      else
        outer.addEventListener(
          'abort',
          () => {
            this.#controller.abort(outer.reason)
          },
          { once: true },
        )
    }
    this.touch()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  touch(): void {
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      const error = new Error(`no progress for ${this.#ms} ms`)
      error.name = 'TimeoutError'
      this.#controller.abort(error)
    }, this.#ms)
  }

  clear(): void {
    clearTimeout(this.#timer)
  }
}

/** Thrown inside an attempt to ask {@link withRetries} for another one. */
export class Retryable extends Error {
  readonly status: number | undefined
  readonly retryAfterMs: number | undefined

  constructor(reason: string, status?: number, retryAfterMs?: number) {
    super(reason)
    this.status = status
    this.retryAfterMs = retryAfterMs
  }
}

/** Milliseconds a `Retry-After` header asks for (delta seconds or an HTTP date), if any. */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000
  const at = Date.parse(header)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.name === 'TimeoutError') return `timed out (${error.message})`
  const cause = (error as { cause?: unknown }).cause
  const code = (cause as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? `${error.message} (${code})` : error.message
}

const UNREACHABLE_HINT =
  'check the registry address, the network and any proxy; for a plain-http registry list it as insecure'

const sleepTimer = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Run `attempt` until it returns, retrying when it throws {@link Retryable} or a network error
 * (anything that is not an {@link InitguardError}). Waits `backoff·2ⁿ`, jittered to 50–100 %, or
 * the server's `Retry-After` when longer.
 *
 * A host name that does not resolve and a refused connection are not retried.
 *
 * @throws {@link UnavailableError} `ERR_REGISTRY_UNREACHABLE` (network), `ERR_REGISTRY_STATUS` (HTTP).
 */
export async function withRetries<T>(
  options: RegistryHttpOptions,
  url: () => URL,
  what: string,
  attempt: (n: number) => Promise<T>,
): Promise<T> {
  const attempts = Math.max(1, options.attempts ?? 4)
  const sleep = options.sleep ?? sleepTimer
  let delay = options.backoffMs ?? 500
  let last: { reason: string; status?: number } = { reason: 'no attempt' }
  for (let n = 1; n <= attempts; n++) {
    let wait: number | undefined
    try {
      return await attempt(n)
    } catch (error) {
      if (error instanceof InitguardError) throw error
      if (error instanceof Retryable) {
        last =
          error.status === undefined
            ? { reason: error.message }
            : { reason: error.message, status: error.status }
        wait = error.retryAfterMs
      } else {
        const hopeless = hopelessNetworkFailure(error)
        if (hopeless !== undefined) {
          // No network, no DNS or nothing listening: a retry after a backoff would fail the same way.
          throw new UnavailableError(
            'ERR_REGISTRY_UNREACHABLE',
            `cannot ${what}: ${hopeless.reason}`,
            {
              cause: error,
              details: { url: safeUrl(url()), reason: hopeless.code, attempts: n },
              hint: UNREACHABLE_HINT,
            },
          )
        }
        last = { reason: describe(error) }
      }
    }
    if (n < attempts) {
      const jittered = delay / 2 + (Math.random() * delay) / 2
      await sleep(Math.max(jittered, Math.min(wait ?? 0, options.maxRetryAfterMs ?? 60_000)))
      delay *= 2
    }
  }
  const details: ErrorDetails = {
    url: safeUrl(url()),
    reason: last.reason,
    attempts,
    ...(last.status === undefined ? {} : { status: last.status }),
  }
  if (last.status !== undefined)
    throw new UnavailableError(
      'ERR_REGISTRY_STATUS',
      `cannot ${what}: the registry answered HTTP ${last.status} ${attempts} times`,
      { details, hint: 'the registry is overloaded or failing: try again later' },
    )
  throw new UnavailableError('ERR_REGISTRY_UNREACHABLE', `cannot ${what}: ${last.reason}`, {
    details,
    hint: UNREACHABLE_HINT,
  })
}

/** What a request handler gets: a response that is not a 401, 5xx or 429. */
export interface RegistryResponse {
  readonly response: Response
  /** Where the response came from, after redirects. */
  readonly url: URL
  /** Touch it per body chunk; it aborts the body after a stall. */
  readonly deadline: Deadline
}

/**
 * The chunks of a response body. Stopping early (a `break` or a throw in the consumer) cancels
 * the stream, which closes the connection instead of draining a body nobody wants.
 */
export async function* bodyChunks(response: Response): AsyncGenerator<Uint8Array> {
  if (response.body === null) return
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  let finished = false
  try {
    for (;;) {
      const result = await reader.read()
      if (result.done) {
        finished = true
        return
      }
      yield result.value
    }
  } finally {
    if (!finished) await reader.cancel().catch(() => undefined)
    reader.releaseLock()
  }
}

/** One request as {@link sendFollowingRedirects} sends it. */
export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  readonly url: URL
  readonly headers: Readonly<Record<string, string>>
  readonly body?: Uint8Array
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/**
 * Send a request and follow up to 10 redirects for GET and HEAD. `Authorization` is dropped as soon
 * as the target leaves the original origin (blob storage must not see registry tokens), and a hop
 * from https to http is refused unless `mayUseHttp` allows that host.
 *
 * @returns the final response and the URL it came from.
 * @throws {@link UnavailableError} `ERR_REGISTRY_REDIRECT`.
 */
export async function sendFollowingRedirects(
  request: HttpRequest,
  options: RegistryHttpOptions,
  signal: AbortSignal,
  mayUseHttp: (host: string) => boolean,
): Promise<{ response: Response; url: URL }> {
  const fetchImpl = options.fetch ?? fetch
  let url = request.url
  const headers: Record<string, string> = {
    'user-agent': options.userAgent ?? 'initguard',
    ...request.headers,
  }
  for (let hop = 0; ; hop++) {
    const response = await fetchImpl(url, {
      method: request.method,
      headers,
      redirect: 'manual',
      signal,
      ...(request.body === undefined ? {} : { body: request.body }),
    })
    const location = response.headers.get('location')
    const follow =
      (request.method === 'GET' || request.method === 'HEAD') && REDIRECTS.has(response.status)
    if (!follow || location === null) return { response, url }
    await response.body?.cancel()
    const next = new URL(location, url)
    const refuse = (reason: string): UnavailableError =>
      new UnavailableError(
        'ERR_REGISTRY_REDIRECT',
        `refusing a redirect from ${safeUrl(url)}: ${reason}`,
        {
          details: { url: safeUrl(url), status: response.status },
          hint: 'the registry or its storage is misconfigured; report it to the registry operator',
        },
      )
    if (hop >= 10) throw refuse('more than 10 redirects')
    if (next.protocol !== 'https:' && next.protocol !== 'http:')
      throw refuse(`unsupported scheme ${next.protocol}`)
    if (url.protocol === 'https:' && next.protocol === 'http:' && !mayUseHttp(next.host))
      throw refuse(`it downgrades to plain http (${next.host})`)
    if (next.origin !== request.url.origin) delete headers['authorization']
    url = next
  }
}

/**
 * Read at most `max` bytes of a body as UTF-8 and cancel the rest, so a hostile server cannot
 * stream an unbounded error or token body into memory. `complete` says whether it all fit.
 */
export async function readBodyUpTo(
  response: Response,
  max: number,
): Promise<{ readonly text: string; readonly complete: boolean }> {
  if (response.body === null) return { text: '', complete: true }
  const reader = (response.body as ReadableStream<Uint8Array>).getReader()
  const chunks: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > max) {
      await reader.cancel()
      chunks.push(value.subarray(0, value.length - (total - max)))
      return { text: Buffer.concat(chunks).toString('utf8'), complete: false }
    }
    chunks.push(value)
  }
  return { text: Buffer.concat(chunks).toString('utf8'), complete: true }
}

async function registryErrorCodes(response: Response): Promise<readonly string[]> {
  try {
    const { text } = await readBodyUpTo(response, 64 * 1024)
    const parsed = JSON.parse(text) as { errors?: { code?: unknown }[] }
    return (parsed.errors ?? [])
      .map((e) => e.code)
      .filter((c): c is string => typeof c === 'string' && /^[A-Z_]{1,64}$/.test(c))
      .slice(0, 5)
  } catch {
    return []
  }
}

/**
 * The coded error for a response that is neither success nor retryable: 401 and 403 are refusals
 * (ExpectationError), 404 and the rest are the registry's answer (UnavailableError). The registry's
 * own error codes (`MANIFEST_UNKNOWN`, `DENIED`…) go into the details.
 */
export async function statusError(
  response: Response,
  url: URL,
  what: string,
): Promise<InitguardError> {
  const registryErrors = await registryErrorCodes(response)
  const details: ErrorDetails = { url: safeUrl(url), status: response.status, registryErrors }
  const suffix = registryErrors.length > 0 ? ` (${registryErrors.join(', ')})` : ''
  switch (response.status) {
    case 401:
      return new ExpectationError(
        'ERR_REGISTRY_UNAUTHORIZED',
        `cannot ${what}: authentication failed${suffix}`,
        {
          details,
          hint: 'check the credentials in the docker config for this registry (docker login / skopeo login)',
        },
      )
    case 403:
      return new ExpectationError('ERR_REGISTRY_DENIED', `cannot ${what}: access denied${suffix}`, {
        details,
        hint: 'the account has no access to this repository: check its name and the account permissions',
      })
    case 404:
      return new UnavailableError('ERR_REGISTRY_NOT_FOUND', `cannot ${what}: not found${suffix}`, {
        details,
        hint: 'check the repository name, tag and digest',
      })
    default:
      return new UnavailableError(
        'ERR_REGISTRY_STATUS',
        `cannot ${what}: HTTP ${response.status}${suffix}`,
        {
          details,
          hint: 'the registry refused the request; see the registry error codes in the details',
        },
      )
  }
}

/** Read a small response body, refusing more than `maxSize` bytes (by header or by count). */
export async function readLimited(
  { response, url, deadline }: RegistryResponse,
  maxSize: number,
  what: string,
  code: `ERR_${string}`,
): Promise<Uint8Array> {
  const tooLarge = (): MalformedInputError =>
    new MalformedInputError(code, `${what} from ${safeUrl(url)} is larger than ${maxSize} bytes`, {
      details: { url: safeUrl(url), maxSize },
      hint: `a ${what} this large is not plausible; raise the limit only for a trusted registry`,
    })
  const length = Number(response.headers.get('content-length') ?? '0')
  if (length > maxSize) {
    await response.body?.cancel()
    throw tooLarge()
  }
  const chunks: Uint8Array[] = []
  let size = 0
  for await (const chunk of bodyChunks(response)) {
    deadline.touch()
    size += chunk.length
    // Throwing ends the for-await, which cancels the stream.
    if (size > maxSize) throw tooLarge()
    chunks.push(chunk)
  }
  return new Uint8Array(Buffer.concat(chunks))
}

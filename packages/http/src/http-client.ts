/**
 * The one outbound HTTP client: every request the project makes goes through it (a test scans the
 * sources for any other). It adds what each caller used to do on its own, and did differently:
 *
 * - a per-attempt timeout (until the response headers, which covers connecting, and then for every
 *   stall while the body streams), an optional total timeout over all attempts, and the caller's
 *   abort signal;
 * - bodies read only within a limit ({@link HttpResponse});
 * - retries with exponential backoff and jitter for network errors, 429 and 5xx only, honouring
 *   `Retry-After` (seconds or an HTTP date, capped); never for other 4xx, never for our own bugs;
 *   a host that does not resolve or refuses the connection fails at once; a request that is not
 *   idempotent (POST, PATCH) is retried only after a 429, which says it was not processed, since
 *   after a 5xx or a broken connection the server may already have acted on it (RFC 9110
 *   §9.2.2);
 * - redirects followed by hand, at most `maxRedirects`, never in a loop, never from https to http
 *   (unless the caller allows that host), never carrying credentials to another origin;
 * - user info in a URL sent as basic authentication, never in the URL, and redacted (with
 *   credential-like query parameters) in every message;
 * - https certificates always verified, against Node's built-in roots (and `NODE_EXTRA_CA_CERTS`)
 *   or per-client trust (CA certificates or one pinned certificate), never at the word of
 *   `NODE_TLS_REJECT_UNAUTHORIZED=0` in the environment ({@link tlsFetch}); a certificate that is
 *   not trusted fails at once as a verification failure. (Node's global `fetch` would take that
 *   variable's word, and takes no TLS option that could overrule it.)
 *
 * @module
 */
import { InitguardError } from '@initguard/core'
import { httpErrors, type HttpErrorMapper, type HttpFailure } from './http-errors.ts'
import { HttpResponse } from './http-response.ts'
import { finalTransportFailure, isTransportFailure } from './network-failure.ts'
import { redactUrl } from './redact-url.ts'
import { backoffDelay, isRetryableStatus, retryAfterMs, sleepTimer } from './retry-policy.ts'
import { tlsFetch, type HttpTlsOptions } from './tls-fetch.ts'

/** Settings of an {@link HttpClient}. */
export interface HttpClientOptions {
  /**
   * Per attempt: the longest wait for the response headers (connecting included), and the
   * longest stall while the body streams; default 30 s.
   */
  readonly timeoutMs?: number
  /**
   * The whole request: every attempt, redirect, backoff wait and the body; default no limit beyond
   * the attempts. Past it the request fails with the `deadline` error (`ERR_<area>_DEADLINE`), not
   * retried.
   */
  readonly totalTimeoutMs?: number
  /** Attempts per request, including the first; default 4. */
  readonly attempts?: number
  /** First backoff delay; doubles on each retry, jittered to 50–100 %; default 500 ms. */
  readonly backoffMs?: number
  /** Longest `Retry-After` honoured; default 60 s (longer waits are cut to this). */
  readonly maxRetryAfterMs?: number
  /** Most redirects followed; default 10. */
  readonly maxRedirects?: number
  /** Hosts (`host[:port]`) a redirect or request may reach over plain http from https; default none. */
  readonly mayUseHttp?: (host: string) => boolean
  /** `User-Agent` header; default `initguard`. */
  readonly userAgent?: string
  /** How failures become coded errors; default `ERR_HTTP_…` codes. A request may bring its own. */
  readonly errors?: HttpErrorMapper
  /**
   * Whom https trusts instead of Node's built-in roots: CA certificates, or one pinned server
   * certificate ({@link tlsFetch}). Not together with `fetch`.
   */
  readonly tls?: HttpTlsOptions
  /**
   * The fetch implementation, for tests; default {@link tlsFetch}'s, which verifies every https
   * certificate whatever the environment says (the global `fetch` would not).
   */
  readonly fetch?: typeof fetch
  /** How to wait between attempts; default a timer (which the signal cuts short). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>
  /** The clock, for `Retry-After` dates and the total timeout; default `Date.now`. */
  readonly now?: () => number
  /** Jitter source in [0, 1); default `Math.random`. */
  readonly random?: () => number
}

/** One request. */
export interface HttpRequest {
  /** Default GET. Only GET and HEAD follow redirects; other methods get the 3xx response. */
  readonly method?: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'
  readonly url: URL | string
  /** Header names are matched without regard to case. */
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array
  /** What is being done, for messages: "download the VCEK from AMD KDS". */
  readonly what: string
  /** Cancels the request. */
  readonly signal?: AbortSignal
  /** More headers (besides authorization, cookie, proxy-authorization) never sent to another origin. */
  readonly sensitiveHeaders?: readonly string[]
  /** This request's coded errors; default the client's. */
  readonly errors?: HttpErrorMapper
  /**
   * Whether sending the request twice does no more than sending it once, so a 5xx or a network
   * failure may be retried. Default: true for GET, HEAD, PUT and DELETE, false for POST and
   * PATCH (RFC 9110 §9.2.2); say true for a POST the server is known to treat as idempotent.
   */
  readonly idempotent?: boolean
}

const REDIRECT_STATUSES: ReadonlySet<number> = new Set([301, 302, 303, 307, 308])

/** Whether `status` is one of the redirects this client follows for a GET (and refuses otherwise). */
export function isRedirectStatus(status: number): boolean {
  return REDIRECT_STATUSES.has(status)
}
/** Methods whose repetition may act twice (RFC 9110 §9.2.2). */
const NOT_IDEMPOTENT = new Set(['POST', 'PATCH'])
const CREDENTIAL_HEADERS = ['authorization', 'cookie', 'proxy-authorization']
const DEFAULT_ERRORS = httpErrors({ area: 'HTTP' })

/** A failure already mapped to the caller's error; thrown to end the attempt loop. */
function isOurs(error: unknown): error is InitguardError {
  return error instanceof InitguardError
}

function positive(value: number | undefined, fallback: number, name: string): number {
  const chosen = value ?? fallback
  if (!(chosen > 0) || Number.isNaN(chosen))
    throw new RangeError(`${name} must be a positive number, not ${String(value)}`)
  return chosen
}

function timeoutError(message: string): Error {
  const error = new Error(message)
  error.name = 'TimeoutError'
  return error
}

/** Percent-decoded user info, as Go's `url.UserPassword` holds it; a broken escape is kept as written. */
function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    return text
  }
}

/** A timer-driven abort that also follows an outer signal. */
class Deadline {
  readonly #controller = new AbortController()
  readonly #ms: number
  readonly #message: string
  readonly #outer: AbortSignal | undefined
  readonly #onOuterAbort = (): void => {
    this.#controller.abort(this.#outer?.reason)
  }
  #timer: ReturnType<typeof setTimeout> | undefined

  constructor(ms: number, message: string, outer?: AbortSignal) {
    this.#ms = ms
    this.#message = message
    this.#outer = outer
    if (outer?.aborted === true) this.#controller.abort(outer.reason)
    else outer?.addEventListener('abort', this.#onOuterAbort, { once: true })
    this.touch()
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** Whether this deadline's own timer fired (not the outer signal). */
  get expired(): boolean {
    const reason: unknown = this.#controller.signal.reason
    return reason instanceof Error && reason.message === this.#message
  }

  touch(): void {
    clearTimeout(this.#timer)
    if (!Number.isFinite(this.#ms)) return
    this.#timer = setTimeout(() => {
      this.#controller.abort(timeoutError(this.#message))
    }, this.#ms)
  }

  clear(): void {
    clearTimeout(this.#timer)
    this.#outer?.removeEventListener('abort', this.#onOuterAbort)
  }
}

/** Why an attempt failed, for people. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error)
  if (error.name === 'TimeoutError') return `timed out (${error.message})`
  const cause = (error as { cause?: unknown }).cause
  const code = (cause as { code?: unknown } | undefined)?.code
  return typeof code === 'string' ? `${error.message} (${code})` : error.message
}

/** The one outbound HTTP client. Stateless apart from its settings: share it freely. */
export class HttpClient {
  readonly #options: HttpClientOptions
  readonly #fetch: typeof fetch

  /**
   * @throws {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` for `tls` PEM that holds
   *   no certificate or one that does not parse.
   */
  constructor(options: HttpClientOptions = {}) {
    positive(options.timeoutMs, 1, 'timeoutMs')
    positive(options.totalTimeoutMs, 1, 'totalTimeoutMs')
    positive(options.attempts, 1, 'attempts')
    // Both would leave one of them unused: refuse rather than silently drop the TLS trust.
    if (options.tls !== undefined && options.fetch !== undefined)
      throw new RangeError('give an HttpClient either tls or fetch, not both')
    this.#options = options
    // Never the global fetch: with NODE_TLS_REJECT_UNAUTHORIZED=0 in the environment it sends the
    // request, credentials included, to any server at all.
    this.#fetch = options.fetch ?? tlsFetch(options.tls ?? {})
  }

  /**
   * Send `request`, retrying transient failures, and give the first response that is not a 429
   * or 5xx (nor a redirect it follows) to `handle`, which reads or discards the body. A network
   * failure while `handle` reads the body retries the whole request; an {@link InitguardError}
   * from `handle` ends it.
   *
   * @throws the request's coded errors (`unreachable`, `network`, `deadline` (past
   *   `totalTimeoutMs`), `status`, `redirect`, `too-large`, `cancelled`, `tls`), and whatever
   *   `handle` throws.
   */
  async request<T>(
    request: HttpRequest,
    handle: (response: HttpResponse) => Promise<T>,
  ): Promise<T> {
    const options = this.#options
    const url = new URL(request.url)
    const shown = redactUrl(url)
    const errors = request.errors ?? options.errors ?? DEFAULT_ERRORS
    const attempts = Math.floor(positive(options.attempts, 4, 'attempts'))
    const idempotent = request.idempotent ?? !NOT_IDEMPOTENT.has(request.method ?? 'GET')
    const now = options.now ?? Date.now
    const sleep = options.sleep ?? sleepTimer
    const random = options.random ?? Math.random
    const totalMs = options.totalTimeoutMs ?? Number.POSITIVE_INFINITY
    const startedAt = now()
    const total = new Deadline(
      totalMs,
      `no complete answer within the total timeout of ${totalMs} ms`,
      request.signal,
    )
    let attempt = 0
    const fail = (failure: Omit<HttpFailure, 'what' | 'url' | 'attempts'>): InitguardError =>
      errors({ what: request.what, url: shown, attempts: attempt, ...failure })
    let last: { reason: string; status?: number; cause?: unknown } | undefined
    /** What the request was doing, for the message when the total timeout cuts it short. */
    let phase = 'waiting for the response'
    // Its own kind, not `network`: a server that trickles its answer must not read as one that is
    // down or said 503, and the time is spent, so nothing retries it here.
    const pastDeadline = (cause: unknown): InitguardError =>
      fail({
        kind: 'deadline',
        reason: `no complete answer within the total timeout of ${totalMs} ms (it ran out ${phase})`,
        totalTimeoutMs: totalMs,
        ...(last === undefined ? {} : { previous: last.reason }),
        cause,
      })
    try {
      for (attempt = 1; attempt <= attempts; attempt++) {
        const timeoutMs = positive(options.timeoutMs, 30_000, 'timeoutMs')
        const deadline = new Deadline(timeoutMs, `no progress for ${timeoutMs} ms`, total.signal)
        let retryAfter: number | undefined
        phase = 'waiting for the response'
        try {
          const { response, at } = await this.#send(request, url, deadline.signal, fail)
          if (!isRetryableStatus(response.status)) {
            phase = `while the HTTP ${response.status} response's body was still arriving`
            return await handle(
              new HttpResponse(response, {
                url: at,
                touch: () => {
                  deadline.touch()
                },
                tooLarge: (maxBytes) =>
                  fail({ kind: 'too-large', reason: 'the body is too large', maxBytes }),
                statusFailure: (status) =>
                  fail({ kind: 'status', reason: `HTTP ${status}`, status }),
              }),
            )
          }
          await response.body?.cancel().catch(() => undefined)
          last = { reason: `HTTP ${response.status}`, status: response.status }
          // A 5xx may come after the server acted; a 429 says it did not.
          if (!idempotent && response.status !== 429) break
          retryAfter = retryAfterMs(response.headers.get('retry-after'), now())
        } catch (error) {
          if (isOurs(error)) throw error
          if (request.signal?.aborted === true)
            throw fail({ kind: 'cancelled', reason: 'cancelled', cause: error })
          if (total.expired) throw pastDeadline(error)
          if (!isTransportFailure(error)) throw error
          // An untrusted server, no network, no DNS or nothing listening: another attempt would
          // fail the same way.
          const final = finalTransportFailure(error)
          if (final !== undefined) throw fail({ ...final, cause: error })
          last = { reason: describe(error), cause: error }
          // The request may have arrived and been acted on before the connection broke.
          if (!idempotent) break
        } finally {
          deadline.clear()
        }
        if (attempt === attempts) break
        const wait = Math.max(
          backoffDelay(options.backoffMs ?? 500, attempt, random()),
          Math.min(retryAfter ?? 0, options.maxRetryAfterMs ?? 60_000),
        )
        // No time left for the wait: give up now rather than after a pointless sleep.
        if (now() - startedAt + wait >= totalMs) break
        phase = 'waiting to retry'
        try {
          await sleep(wait, total.signal)
        } catch (error) {
          if (request.signal?.aborted === true)
            throw fail({ kind: 'cancelled', reason: 'cancelled', cause: error })
          throw pastDeadline(error)
        }
      }
      attempt = Math.min(attempt, attempts)
      const final = last ?? { reason: 'no attempt' }
      throw fail({
        kind: final.status === undefined ? 'network' : 'status',
        reason: final.reason,
        ...(final.status === undefined ? {} : { status: final.status }),
        ...(final.cause === undefined ? {} : { cause: final.cause }),
      })
    } finally {
      total.clear()
    }
  }

  /** Send once, following redirects for GET and HEAD. */
  async #send(
    request: HttpRequest,
    url: URL,
    signal: AbortSignal,
    fail: (failure: Omit<HttpFailure, 'what' | 'url' | 'attempts'>) => InitguardError,
  ): Promise<{ response: Response; at: URL }> {
    const options = this.#options
    const fetchImpl = this.#fetch
    const method = request.method ?? 'GET'
    const headers = new Headers({ 'user-agent': options.userAgent ?? 'initguard' })
    for (const [name, value] of Object.entries(request.headers ?? {})) headers.set(name, value)
    let at = new URL(url.href)
    // fetch refuses user info in URLs; Go's http.Client sends it as basic authentication.
    if (at.username !== '' || at.password !== '') {
      const user = `${percentDecode(at.username)}:${percentDecode(at.password)}`
      if (!headers.has('authorization'))
        headers.set('authorization', `Basic ${Buffer.from(user).toString('base64')}`)
    }
    at.username = ''
    at.password = ''
    const sensitive = [
      ...CREDENTIAL_HEADERS,
      ...(request.sensitiveHeaders ?? []).map((h) => h.toLowerCase()),
    ]
    const maxRedirects = options.maxRedirects ?? 10
    const visited = new Set([at.href])
    for (let hop = 0; ; hop++) {
      const response = await fetchImpl(at, {
        method,
        headers,
        redirect: 'manual',
        signal,
        ...(request.body === undefined ? {} : { body: request.body }),
      })
      const location = response.headers.get('location')
      const follows =
        (method === 'GET' || method === 'HEAD') && REDIRECT_STATUSES.has(response.status)
      if (!follows || location === null) return { response, at }
      await response.body?.cancel().catch(() => undefined)
      const refuse = (why: string): InitguardError =>
        fail({
          kind: 'redirect',
          reason: `refusing the redirect from ${redactUrl(at)}: ${why}`,
          status: response.status,
        })
      let next: URL
      try {
        next = new URL(location, at)
      } catch {
        throw refuse('its Location is not a URL')
      }
      if (next.protocol !== 'https:' && next.protocol !== 'http:')
        throw refuse(`unsupported scheme ${next.protocol}`)
      if (
        at.protocol === 'https:' &&
        next.protocol === 'http:' &&
        options.mayUseHttp?.(next.host) !== true
      )
        throw refuse(`it goes from https to plain http (${redactUrl(next)})`)
      if (hop >= maxRedirects)
        throw refuse(
          maxRedirects === 0
            ? `this client follows no redirects (to ${redactUrl(next)})`
            : `more than ${maxRedirects} redirects`,
        )
      next.username = ''
      next.password = ''
      next.hash = ''
      if (visited.has(next.href)) throw refuse(`it loops back to ${redactUrl(next)}`)
      visited.add(next.href)
      // Credentials are for the origin they were given for, never for storage or anyone else.
      if (next.origin !== url.origin) for (const name of sensitive) headers.delete(name)
      at = next
    }
  }
}

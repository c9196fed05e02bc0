/**
 * One authenticated registry request to a registry's `/v2/` API, on the one HTTP client: the scheme
 * (https unless the registry is listed as insecure), Docker Hub's API host, and the 401 →
 * challenge → resend-once dance. Retries, deadlines, redirects and body limits are the client's.
 *
 * @module
 */
import { InternalError, UsageError } from '@initguard/core'
import { HttpClient, type HttpRequest, type HttpResponse } from '@initguard/http'
import { parseDockerReference } from '@initguard/image-policy'
import { normalizeRegistryHost, type RegistryCredentialsLookup } from './docker-credentials.ts'
import { RegistryAuth, type AuthTarget } from './registry-auth.ts'
import {
  ANSWER_ALLOWANCE_BYTES,
  blobDeadlineMs,
  requestDeadlineError,
  withinDeadline,
  type BlobDeadline,
} from './registry-deadline.ts'
import { registryErrors, safeUrl, statusError, type RegistryHttpOptions } from './registry-http.ts'

/** A registry response, as the HTTP client hands it over. */
export type RegistryResponse = HttpResponse

/** A repository on a registry. */
export interface Repository {
  /** The registry as references name it, `host[:port]` (`docker.io` for Docker Hub). */
  readonly registry: string
  /** The repository path, e.g. `library/busybox`. */
  readonly path: string
}

/** Settings of {@link RegistryTransport}. */
export interface RegistryTransportOptions extends RegistryHttpOptions {
  /** Registries (`host[:port]`) reached over plain http; loopback is not implied. */
  readonly insecureRegistries?: readonly string[]
  /**
   * Credentials for a repository (its path) on a registry (`docker.io` for Docker Hub); default
   * anonymous everywhere. Asked per request, so namespace-scoped credentials stay in their namespace.
   */
  readonly credentials?: RegistryCredentialsLookup
  /**
   * How long each request may take in all: `baseMs` (default 60 s) plus the most bytes it may
   * move at `minBytesPerSecond` (default 32 KiB/s); see {@link RegistryRequest.deadline}. Checked
   * when the transport is made.
   */
  readonly blobDeadline?: BlobDeadline
}

/** What every registry API request has, whatever its deadline. */
export interface RegistryRequestBase {
  readonly method: NonNullable<HttpRequest['method']>
  readonly repository: Repository
  /** Below `/v2/<path>/` (e.g. `manifests/v1`), or an absolute URL (an upload `Location`). */
  readonly target: string | URL
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array
  /** `pull`, or `pull,push` for uploads. */
  readonly actions: 'pull' | 'pull,push'
  /** What is being done, for messages: "get the manifest of …". */
  readonly what: string
  /**
   * The HTTP client's `idempotent`: true for a POST that is safe to repeat (starting an upload),
   * so that it is retried after a 5xx or a broken connection like a GET.
   */
  readonly idempotent?: boolean
}

/**
 * A request with the transport's deadline: `{ bytes }` is the transport's deadline
 * (`blobDeadline`) for `bytes` plus {@link ANSWER_ALLOWANCE_BYTES} (a token answer and an error
 * body), over every attempt, backoff wait, the token request and the body; when it passes the
 * request fails with `ERR_REGISTRY_DEADLINE`. `bytes` is the body limit of what is read (a
 * manifest, a tag list page) or the size of what is sent (an upload), 0 for none: a whole number,
 * 0 or more.
 */
export interface TransportDeadline {
  readonly deadline: { readonly bytes: number }
  /** Cancels the request (a batch stops its other downloads after a failure). */
  readonly signal?: AbortSignal
}

/**
 * A request whose deadline is the caller's own, carried by `signal` (a blob download's, from its
 * size). The signal is required: `'caller'` without one would leave the request with only the
 * per-stall timeout, which a registry trickling a byte just inside it defeats for ever.
 */
export interface CallerDeadline {
  readonly deadline: 'caller'
  /** Aborts when the caller's deadline passes (and on the caller's cancellation). */
  readonly signal: AbortSignal
}

/**
 * One registry API request. Every one has a whole-request deadline, not only the per-stall
 * timeout (a registry trickling a byte just inside it would hold the request for ever): the
 * transport's ({@link TransportDeadline}) or the caller's, in its signal ({@link CallerDeadline}).
 */
export type RegistryRequest = RegistryRequestBase & (TransportDeadline | CallerDeadline)

/**
 * Check the request's deadline: the type already requires one, this refuses what JS callers and
 * casts get past the type, before anything is sent.
 *
 * @throws {@link InternalError} `ERR_REGISTRY_REQUEST_DEADLINE` for `'caller'` without an
 *   AbortSignal, or a `{ bytes }` that is not a whole number 0 or more, or no deadline at all.
 */
function checkDeadline(request: RegistryRequest): void {
  const deadline: unknown = request.deadline
  const valid =
    deadline === 'caller'
      ? request.signal instanceof AbortSignal
      : typeof deadline === 'object' &&
        deadline !== null &&
        Number.isSafeInteger((deadline as { bytes?: unknown }).bytes) &&
        (deadline as { bytes: number }).bytes >= 0
  if (valid) return
  const shown =
    deadline === 'caller'
      ? "'caller' without a signal"
      : typeof deadline === 'object' && deadline !== null
        ? `{ bytes: ${String((deadline as { bytes?: unknown }).bytes)} }`
        : String(deadline)
  throw new InternalError(
    'ERR_REGISTRY_REQUEST_DEADLINE',
    `cannot ${request.what}: the request's deadline, ${shown}, is neither { bytes: a whole number 0 or more } nor 'caller' with the AbortSignal that carries the caller's deadline`,
    {
      details: { deadline: shown },
      hint: 'a bug in the caller: every registry request needs a deadline, so that a registry that trickles cannot hold it for ever',
    },
  )
}

/**
 * Parse `host[:port]/path` (as references write repositories) into a {@link Repository}.
 *
 * @throws {@link MalformedInputError} the `ERR_IMAGE_REF_*` codes of the reference parser.
 */
export function parseRepository(name: string): Repository {
  const ref = parseDockerReference(name, 'repository')
  return { registry: ref.domain, path: ref.path }
}

/** The named options that are set (an absent key stays absent under exactOptionalPropertyTypes). */
function pick<T extends object, K extends keyof T>(from: T, ...keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {}
  for (const key of keys) if (from[key] !== undefined) picked[key] = from[key]
  return picked
}

/** Sends registry requests; shared by manifests, blobs and pushes. */
export class RegistryTransport {
  readonly #insecure: ReadonlySet<string>
  readonly #auth: RegistryAuth
  readonly #client: HttpClient
  readonly #deadline: BlobDeadline | undefined

  /**
   * @throws {@link UsageError} `ERR_REGISTRY_BLOB_DEADLINE_OPTION` for a malformed `blobDeadline`.
   */
  constructor(options: RegistryTransportOptions = {}) {
    blobDeadlineMs(0, options.blobDeadline)
    this.#deadline = options.blobDeadline
    this.#insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()))
    const mayUseHttp = (host: string): boolean => this.#insecure.has(host.toLowerCase())
    // Only the HTTP settings: callers pass wider option objects (an image check's `now` is a Date).
    const http: RegistryHttpOptions = pick(
      options,
      'timeoutMs',
      'totalTimeoutMs',
      'attempts',
      'backoffMs',
      'maxRetryAfterMs',
      'fetch',
      'sleep',
      'random',
      'userAgent',
    )
    this.#client = new HttpClient({ ...http, mayUseHttp, errors: registryErrors })
    const credentials = options.credentials ?? (() => undefined)
    this.#auth = new RegistryAuth({
      client: this.#client,
      credentials: (host, repository) => credentials(normalizeRegistryHost(host), repository),
      mayUseHttp,
    })
  }

  /** The API base of a registry: `https://host/` (Docker Hub: `registry-1.docker.io`). */
  baseUrl(registry: string): URL {
    const host = normalizeRegistryHost(registry) === 'docker.io' ? 'registry-1.docker.io' : registry
    const insecure =
      this.#insecure.has(registry.toLowerCase()) || this.#insecure.has(host.toLowerCase())
    return new URL(`${insecure ? 'http' : 'https'}://${host}/`)
  }

  /** `/v2/<path>/<rest>` on the repository's registry. */
  url(repository: Repository, rest: string): URL {
    return new URL(`v2/${repository.path}/${rest}`, this.baseUrl(repository.registry))
  }

  /**
   * Send `request`, answering one authentication challenge (the HTTP client retries transient
   * failures), and give every other response to `handle`, which must read or discard its body. A
   * network error while `handle` reads the body retries the whole request. All of it, token
   * request included, within the request's `deadline`.
   *
   * @throws {@link UnavailableError} `ERR_REGISTRY_UNREACHABLE`, `ERR_REGISTRY_STATUS`,
   *   `ERR_REGISTRY_REDIRECT`, `ERR_REGISTRY_CANCELLED`, `ERR_REGISTRY_DEADLINE` (whatever was
   *   under way when the deadline passed is its cause); {@link ExpectationError}
   *   `ERR_REGISTRY_UNAUTHORIZED`; {@link InternalError} `ERR_REGISTRY_REQUEST_DEADLINE` (a
   *   request without a valid deadline, refused before it is sent); and whatever `handle` throws.
   */
  async request<T>(
    request: RegistryRequest,
    handle: (r: RegistryResponse) => Promise<T>,
  ): Promise<T> {
    const url =
      request.target instanceof URL ? request.target : this.url(request.repository, request.target)
    const base = this.baseUrl(request.repository.registry)
    if (url.origin !== base.origin)
      throw new UsageError('ERR_REGISTRY_URL', 'a registry request left the registry', {
        details: { registry: request.repository.registry },
      })
    const target = {
      host: base.host,
      repository: request.repository.path,
      scope: `repository:${request.repository.path}:${request.actions}`,
    }
    checkDeadline(request)
    const run = (signal: AbortSignal): Promise<T> =>
      this.#send(request, url, target, signal, handle)
    if (request.deadline === 'caller') return run(request.signal)
    const bytes = request.deadline.bytes + ANSWER_ALLOWANCE_BYTES
    return withinDeadline(bytes, this.#deadline, request.signal, run, (numbers, cause) =>
      requestDeadlineError(request.what, safeUrl(url), bytes, numbers, cause),
    )
  }

  /**
   * Run `work`'s requests under ONE deadline, the transport's for `bytes` plus
   * {@link ANSWER_ALLOWANCE_BYTES} as a single request's, for an answer that comes in pages (a tag
   * list): each page's request takes `deadline: 'caller'` with the signal `work` is given, so
   * that following more pages cannot stretch the time. `signal` is the caller's cancellation.
   *
   * @throws {@link UnavailableError} `ERR_REGISTRY_DEADLINE` when the deadline passes; else what
   *   `work` throws.
   */
  withinOneDeadline<T>(
    what: string,
    repository: Repository,
    bytes: number,
    work: (signal: AbortSignal) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const total = bytes + ANSWER_ALLOWANCE_BYTES
    const url = safeUrl(this.url(repository, ''))
    return withinDeadline(total, this.#deadline, signal, work, (numbers, cause) =>
      requestDeadlineError(what, url, total, numbers, cause),
    )
  }

  /** Send `request`, answering one challenge, all under `signal`; see {@link request}. */
  async #send<T>(
    request: RegistryRequest,
    url: URL,
    target: AuthTarget,
    signal: AbortSignal,
    handle: (r: RegistryResponse) => Promise<T>,
  ): Promise<T> {
    const send = (answered: boolean): Promise<{ resend: true } | { value: T }> => {
      const authorization = this.#auth.header(target)
      return this.#client.request(
        {
          method: request.method,
          url,
          headers: {
            ...request.headers,
            ...(authorization === undefined ? {} : { authorization }),
          },
          what: request.what,
          ...(request.body === undefined ? {} : { body: request.body }),
          signal,
          ...(request.idempotent === undefined ? {} : { idempotent: request.idempotent }),
        },
        async (response) => {
          if (response.status === 401 && response.url.origin === url.origin && !answered) {
            await this.#auth.answer(target, response, request.what, signal)
            return { resend: true }
          }
          if (response.status === 401) throw await statusError(response, request.what)
          return { value: await handle(response) }
        },
      )
    }
    // Once answered, a challenge is not answered again: the loop ends on the second send.
    for (let answered = false; ; answered = true) {
      const result = await send(answered)
      if ('value' in result) return result.value
    }
  }
}

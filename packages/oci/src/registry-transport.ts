/**
 * One authenticated, retried request to a registry's `/v2/` API: the scheme (https unless the
 * registry is listed as insecure), Docker Hub's API host, the 401 → challenge → resend-once dance,
 * retries of network errors, 5xx and 429, and the deadline for the whole exchange including the
 * body, which the caller's handler consumes.
 *
 * @module
 */
import { InitguardError, UnavailableError, UsageError } from '@initguard/core'
import { parseDockerReference } from '@initguard/image-policy'
import { normalizeRegistryHost, type RegistryCredentials } from './docker-credentials.ts'
import { RegistryAuth } from './registry-auth.ts'
import {
  Deadline,
  Retryable,
  retryAfterMs,
  safeUrl,
  sendFollowingRedirects,
  statusError,
  withRetries,
  type HttpRequest,
  type RegistryHttpOptions,
  type RegistryResponse,
} from './registry-http.ts'

export type { RegistryResponse } from './registry-http.ts'

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
  /** Credentials for a registry (`docker.io` for Docker Hub); default anonymous everywhere. */
  readonly credentials?: (registry: string) => RegistryCredentials | undefined
}

/** One registry API request. */
export interface RegistryRequest {
  readonly method: HttpRequest['method']
  readonly repository: Repository
  /** Below `/v2/<path>/` (e.g. `manifests/v1`), or an absolute URL (an upload `Location`). */
  readonly target: string | URL
  readonly headers?: Readonly<Record<string, string>>
  readonly body?: Uint8Array
  /** `pull`, or `pull,push` for uploads. */
  readonly actions: 'pull' | 'pull,push'
  /** What is being done, for messages: "get the manifest of …". */
  readonly what: string
  /** Cancels the request (a batch stops its other downloads after a failure). */
  readonly signal?: AbortSignal
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

/** Sends registry requests; shared by manifests, blobs and pushes. */
export class RegistryTransport {
  readonly #options: RegistryTransportOptions
  readonly #insecure: ReadonlySet<string>
  readonly #auth: RegistryAuth

  constructor(options: RegistryTransportOptions = {}) {
    this.#options = options
    this.#insecure = new Set((options.insecureRegistries ?? []).map((h) => h.toLowerCase()))
    const credentials = options.credentials ?? (() => undefined)
    this.#auth = new RegistryAuth({
      ...options,
      credentials: (host) => credentials(normalizeRegistryHost(host)),
      mayUseHttp: (host) => this.#insecure.has(host.toLowerCase()),
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
   * Send `request`, answering one authentication challenge and retrying transient failures, and
   * give every other response to `handle`, which must consume or cancel its body. A network error
   * thrown by `handle` (a body cut short) retries the whole request.
   *
   * @throws {@link UnavailableError} `ERR_REGISTRY_UNREACHABLE`, `ERR_REGISTRY_STATUS`,
   *   `ERR_REGISTRY_REDIRECT`; {@link ExpectationError} `ERR_REGISTRY_UNAUTHORIZED`; and whatever
   *   `handle` throws.
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
    const host = base.host
    const scope = `repository:${request.repository.path}:${request.actions}`
    const timeoutMs = this.#options.timeoutMs ?? 30_000
    return withRetries(
      this.#options,
      () => url,
      request.what,
      async () => {
        const deadline = new Deadline(timeoutMs, request.signal)
        try {
          for (let answered = false; ; answered = true) {
            const authorization = this.#auth.header(host, scope)
            const { response, url: at } = await sendFollowingRedirects(
              {
                method: request.method,
                url,
                headers: {
                  ...request.headers,
                  ...(authorization === undefined ? {} : { authorization }),
                },
                ...(request.body === undefined ? {} : { body: request.body }),
              },
              this.#options,
              deadline.signal,
              (h) => this.#insecure.has(h.toLowerCase()),
            )
            if (response.status === 401 && at.origin === url.origin && !answered) {
              await this.#auth.answer(host, scope, response, at, request.what)
              continue
            }
            if (response.status === 401) throw await statusError(response, at, request.what)
            if (response.status >= 500 || response.status === 429) {
              await response.body?.cancel()
              throw new Retryable(
                `HTTP ${response.status}`,
                response.status,
                retryAfterMs(response.headers.get('retry-after')),
              )
            }
            return await handle({ response, url: at, deadline })
          }
        } catch (error) {
          // A cancelled request must not be retried like a network error.
          if (request.signal?.aborted === true && !(error instanceof InitguardError))
            throw new UnavailableError(
              'ERR_REGISTRY_CANCELLED',
              `cannot ${request.what}: cancelled`,
              {
                cause: error,
                details: { url: safeUrl(url) },
              },
            )
          throw error
        } finally {
          deadline.clear()
        }
      },
    )
  }
}

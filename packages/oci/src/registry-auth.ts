/**
 * Registry authentication as the distribution spec and Docker Hub do it: anonymous first; on a
 * `401` the `WWW-Authenticate` challenge says how. `Basic` resends with the configured user and
 * password; `Bearer realm=…,service=…,scope=…` asks the token endpoint (a GET, with basic
 * credentials when there are any, anonymously otherwise) for a token for the request's scope, and
 * the request is resent once with it. Tokens are cached per registry and scope until they expire.
 * The token service is reached over https, or over plain http only when its host is listed as
 * insecure and the registry itself is plain http too: never a downgrade from an https registry.
 *
 * @module
 */
import { ExpectationError, MalformedInputError, UsageError } from '@initguard/core'
import type { HttpClient, HttpResponse } from '@initguard/http'
import type { RegistryCredentials, RegistryCredentialsLookup } from './docker-credentials.ts'
import { MAX_TOKEN_RESPONSE_BYTES } from './registry-deadline.ts'
import { safeUrl, statusError } from './registry-http.ts'

/** What a Bearer token may hold: visible ASCII, no spaces (RFC 6750's b64token and more). */
const TOKEN_CHARACTERS = /^[\x21-\x7e]+$/

/** One challenge of a `WWW-Authenticate` header. */
export interface AuthChallenge {
  /** Lower case: `bearer`, `basic`… */
  readonly scheme: string
  readonly params: Readonly<Record<string, string>>
}

/**
 * Parse a `WWW-Authenticate` header (RFC 7235): schemes followed by `name=value` or
 * `name="quoted value"` parameters, several challenges separated by commas.
 */
export function parseWwwAuthenticate(header: string): AuthChallenge[] {
  const challenges: { scheme: string; params: Record<string, string> }[] = []
  const token = /\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)/y
  const separator = /\s*(?:,\s*)?/y
  const param = /([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*=\s*("((?:[^"\\]|\\.)*)"|[^\s,]*)/y
  let i = 0
  while (i < header.length) {
    token.lastIndex = i
    const scheme = token.exec(header)
    if (scheme === null) break
    i = token.lastIndex
    const params: Record<string, string> = {}
    challenges.push({ scheme: (scheme[1] ?? '').toLowerCase(), params })
    for (;;) {
      // The separator is matched on its own, where it cannot backtrack: written as one pattern
      // with the parameter (`\s*,?\s*name=`), two adjacent `\s*` made a run of n spaces cost
      // n² steps (64 KiB of them took seconds).
      separator.lastIndex = i
      separator.exec(header)
      param.lastIndex = separator.lastIndex
      const m = param.exec(header)
      if (m === null) break
      i = param.lastIndex
      params[(m[1] ?? '').toLowerCase()] =
        m[3] !== undefined ? m[3].replace(/\\(.)/g, '$1') : (m[2] ?? '')
    }
    while (i < header.length && /[\s,]/.test(header.charAt(i))) i++
  }
  return challenges
}

/** Settings of {@link RegistryAuth}. */
export interface RegistryAuthOptions {
  /** The client token requests go through. */
  readonly client: HttpClient
  /** Credentials for a repository (its path) on a registry host, or `undefined` for anonymous. */
  readonly credentials: RegistryCredentialsLookup
  /** Whether plain http may be used for this `host[:port]` (the insecure-registries list). */
  readonly mayUseHttp: (host: string) => boolean
  /** The clock, for token expiry; default `Date.now`. */
  readonly now?: () => number
}

function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`
}

/** What one request is authorized for. */
export interface AuthTarget {
  /** The registry's `host[:port]`. */
  readonly host: string
  /** The repository path (credentials may be scoped to a namespace). */
  readonly repository: string
  /** The token scope, `repository:<path>:<actions>`, or `''` for none. */
  readonly scope: string
}

/** Authorization state for the registries one client talks to. */
export class RegistryAuth {
  readonly #options: RegistryAuthOptions
  readonly #tokens = new Map<string, { header: string; expiresAt: number }>()
  readonly #basicHosts = new Set<string>()

  constructor(options: RegistryAuthOptions) {
    this.#options = options
  }

  /** The `Authorization` header to send to the target's host for its scope, if one is known. */
  header(target: AuthTarget): string | undefined {
    const { host, repository, scope } = target
    const cached = this.#tokens.get(`${host} ${scope}`)
    if (cached !== undefined && cached.expiresAt > (this.#options.now ?? Date.now)())
      return cached.header
    const credentials = this.#basicHosts.has(host)
      ? this.#options.credentials(host, repository)
      : undefined
    return credentials === undefined ? undefined : basic(credentials)
  }

  /**
   * Act on a `401` from the target's host: learn the scheme and obtain a token. Afterwards {@link header}
   * gives what to resend with.
   *
   * `signal` (the request's, with its deadline) cancels the token request.
   *
   * @throws {@link ExpectationError} `ERR_REGISTRY_UNAUTHORIZED` when there is nothing to try.
   */
  async answer(
    target: AuthTarget,
    response: HttpResponse,
    what: string,
    signal?: AbortSignal,
  ): Promise<void> {
    const { host, repository, scope } = target
    const challenges = parseWwwAuthenticate(response.headers.get('www-authenticate') ?? '')
    const bearer = challenges.find((c) => c.scheme === 'bearer')
    const credentials = this.#options.credentials(host, repository)
    if (bearer !== undefined) {
      await response.discard()
      // Whether the registry itself is reached over https: then so must its token service be.
      const secure = response.url.protocol === 'https:'
      await this.#fetchToken(host, scope, bearer, credentials, secure, signal)
      return
    }
    if (challenges.some((c) => c.scheme === 'basic') && credentials !== undefined) {
      await response.discard()
      this.#basicHosts.add(host)
      return
    }
    const error = await statusError(response, what)
    throw new ExpectationError('ERR_REGISTRY_UNAUTHORIZED', error.message, {
      details: error.details,
      hint:
        credentials === undefined
          ? `the registry wants credentials: add an "auths" entry for ${host} to the docker config`
          : 'the registry offers no authentication scheme Initguard supports (Basic or Bearer)',
    })
  }

  async #fetchToken(
    host: string,
    scope: string,
    challenge: AuthChallenge,
    credentials: RegistryCredentials | undefined,
    secure: boolean,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    const realm = challenge.params['realm']
    let url: URL
    try {
      url = new URL(realm ?? '')
    } catch {
      throw new MalformedInputError(
        'ERR_REGISTRY_CHALLENGE',
        `the registry ${host} sent a Bearer challenge without a valid realm`,
        {
          details: { registry: host },
          hint: 'the registry is misconfigured; report it to its operator',
        },
      )
    }
    // An https registry's credentials never go over plain http, even to a host listed as
    // insecure: the list allows plain http to that host's registry, not a downgrade of another's.
    if (secure && url.protocol === 'http:')
      throw new UsageError(
        'ERR_REGISTRY_INSECURE_REALM',
        `the registry ${host} is reached over https but sends credentials to a token service over plain http (${safeUrl(url)})`,
        {
          details: { registry: host, realm: safeUrl(url) },
          hint: 'the token service must use https when the registry does; report it to the registry operator',
        },
      )
    if (
      url.protocol !== 'https:' &&
      !(url.protocol === 'http:' && this.#options.mayUseHttp(url.host))
    )
      throw new UsageError(
        'ERR_REGISTRY_INSECURE_REALM',
        `the registry ${host} sends credentials to a token service over plain http (${safeUrl(url)})`,
        {
          details: { registry: host, realm: safeUrl(url) },
          hint: `list ${url.host} as an insecure registry if plain http is really intended`,
        },
      )
    const service = challenge.params['service']
    if (service !== undefined) url.searchParams.set('service', service)
    const wanted = scope !== '' ? scope : challenge.params['scope']
    if (wanted !== undefined && wanted !== '') url.searchParams.set('scope', wanted)
    const what = `get a token for ${host} from ${safeUrl(url)}`
    const body = await this.#options.client.request(
      {
        method: 'GET',
        url,
        headers: credentials === undefined ? {} : { authorization: basic(credentials) },
        what,
        ...(signal === undefined ? {} : { signal }),
      },
      async (response) => {
        if (!response.ok) throw await statusError(response, what)
        return response.text({
          maxBytes: MAX_TOKEN_RESPONSE_BYTES,
          tooLarge: () =>
            new MalformedInputError(
              'ERR_REGISTRY_TOKEN',
              `the token response from ${safeUrl(response.url)} is larger than 1 MiB`,
              { details: { url: safeUrl(response.url) }, hint: 'the token service is misbehaving' },
            ),
        })
      },
    )
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown } = {}
    try {
      const value: unknown = JSON.parse(body)
      // `null`, a list or a string is valid JSON too; it holds no token (and `null.token` would
      // throw a TypeError instead of the coded refusal below).
      if (typeof value === 'object' && value !== null && !Array.isArray(value)) parsed = value
    } catch {
      // Not JSON: no token, refused below.
    }
    const token =
      typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token
    if (typeof token !== 'string' || token === '')
      throw new MalformedInputError(
        'ERR_REGISTRY_TOKEN',
        `the token service of ${host} answered without a token`,
        {
          details: { url: safeUrl(url) },
          hint: 'the token service is misconfigured; report it to the registry operator',
        },
      )
    // The token goes into an Authorization header: a line break or a control or non-ASCII
    // character cannot (fetch would throw a bare TypeError on the next request), and a space
    // would add a second field to the header. Real tokens are JWTs or base64.
    if (!TOKEN_CHARACTERS.test(token))
      throw new MalformedInputError(
        'ERR_REGISTRY_TOKEN',
        `the token service of ${host} answered with a token that cannot be sent in a header (only visible ASCII characters, no spaces)`,
        {
          details: { url: safeUrl(url), length: token.length },
          hint: 'the token service is misconfigured or hostile; report it to the registry operator',
        },
      )
    // The spec's default lifetime is 60 s; refresh a little early so a token never expires mid-request.
    const lifetime =
      typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : 60
    this.#tokens.set(`${host} ${scope}`, {
      header: `Bearer ${token}`,
      expiresAt: (this.#options.now ?? Date.now)() + Math.max(lifetime - 10, 1) * 1000,
    })
  }
}

/**
 * What the registry client adds to the one HTTP client: its error codes (`ERR_REGISTRY_…`), URLs
 * shown without query or credentials, the registry's own error codes read from a bounded error
 * body, and bounded reads of small bodies.
 *
 * @module
 */
import {
  ExpectationError,
  MalformedInputError,
  UnavailableError,
  type ErrorDetails,
  type InitguardError,
} from '@initguard/core'
import {
  httpErrors,
  redactUrl,
  type HttpClientOptions,
  type HttpErrorMapper,
  type HttpResponse,
} from '@initguard/http'
import { MAX_ERROR_BODY_BYTES } from './registry-deadline.ts'

/** Network settings of the registry client (see the HTTP client for each). */
export type RegistryHttpOptions = Pick<
  HttpClientOptions,
  | 'timeoutMs'
  | 'totalTimeoutMs'
  | 'attempts'
  | 'backoffMs'
  | 'maxRetryAfterMs'
  | 'fetch'
  | 'sleep'
  | 'random'
  | 'userAgent'
>

/** A URL as messages and details show it: no user info, no query (which may hold signatures). */
export function safeUrl(url: URL | string): string {
  return redactUrl(url, { query: 'drop' })
}

const UNREACHABLE_HINT =
  'check the registry address, the network and any proxy; for a plain-http registry list it as insecure'

/** The registry client's coded errors for the HTTP client's failures. */
export const registryErrors: HttpErrorMapper = (() => {
  const mapper = httpErrors({
    area: 'REGISTRY',
    codes: { network: 'ERR_REGISTRY_UNREACHABLE' },
    hints: {
      unreachable: UNREACHABLE_HINT,
      network: UNREACHABLE_HINT,
      status: 'the registry is overloaded or failing: try again later',
      redirect: 'the registry or its storage is misconfigured; report it to the registry operator',
    },
  })
  // Registry URLs are shown without their query: upload state and storage signatures live there.
  return (failure) => mapper({ ...failure, url: safeUrl(failure.url) })
})()

async function registryErrorCodes(response: HttpResponse): Promise<readonly string[]> {
  try {
    const { bytes } = await response.peek(MAX_ERROR_BODY_BYTES)
    const parsed = JSON.parse(new TextDecoder().decode(bytes)) as { errors?: { code?: unknown }[] }
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
export async function statusError(response: HttpResponse, what: string): Promise<InitguardError> {
  const registryErrors = await registryErrorCodes(response)
  const details: ErrorDetails = {
    url: safeUrl(response.url),
    status: response.status,
    registryErrors,
  }
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
  response: HttpResponse,
  maxSize: number,
  what: string,
  code: `ERR_${string}`,
): Promise<Uint8Array> {
  const url = safeUrl(response.url)
  return response.bytes({
    maxBytes: maxSize,
    tooLarge: () =>
      new MalformedInputError(code, `${what} from ${url} is larger than ${maxSize} bytes`, {
        details: { url, maxSize },
        hint: `a ${what} this large is not plausible; raise the limit only for a trusted registry`,
      }),
  })
}

/**
 * How the agent's KBS session tells its failures: a TLS refusal as what it means with a pinned
 * certificate, and a caller's abort while it waits for the shared handshake.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import { VerificationError, isInitguardError } from '@initguard/core'
import type { KbsEndpoint } from './kbs-config.ts'

/** TLS failures that are about a certificate's dates, not about which certificate it is. */
const VALIDITY_FAILURES: ReadonlySet<string> = new Set([
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
])

/**
 * `error` told as what it means for the pinned `endpoint`: for `ERR_KBS_TLS`, the KBS presented
 * another certificate than the pinned one (the pin is the only trust anchor, so an untrusted chain
 * means that too), or, for a validity failure, what it is (e.g. the pinned certificate itself has
 * expired); any other error as it is.
 */
export function pinnedTlsRefusal(endpoint: KbsEndpoint, error: unknown): unknown {
  const pem = endpoint.pinnedCertificatePem
  if (!isInitguardError(error) || error.code !== 'ERR_KBS_TLS' || pem === undefined) return error
  const files = `the verified init-data's ${endpoint.namedBy.join(' and ')}`
  const pinned = new X509Certificate(pem)
  const reason = error.details['reason']
  const validity = typeof reason === 'string' && VALIDITY_FAILURES.has(reason)
  return new VerificationError(
    'ERR_KBS_TLS',
    validity
      ? `the TLS connection to the KBS at ${endpoint.url} was refused, the certificate is out of its validity period (${reason}; the pinned one in ${files} is valid from ${pinned.validFrom} to ${pinned.validTo}); nothing was sent to it: ${error.message}`
      : `the KBS at ${endpoint.url} did not present the certificate pinned in ${files} (SHA-256 ${pinned.fingerprint256}); nothing was sent to it: ${error.message}`,
    {
      cause: error,
      details: error.details,
      hint: validity
        ? "renew the KBS's certificate and pin the new one in the init-data, or check the guest's clock"
        : 'the KBS must present exactly the pinned certificate: fix the KBS, or launch the guest with init-data pinning its certificate',
    },
  )
}

/** `work`, or the reason of `signal` if it fires first; the listener is removed either way. */
export async function waitFor<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work
  signal.throwIfAborted()
  let abort: (() => void) | undefined
  try {
    return await Promise.race([
      work,
      new Promise<never>((_, reject) => {
        abort = () => {
          reject(signal.reason as Error)
        }
        signal.addEventListener('abort', abort, { once: true })
      }),
    ])
  } finally {
    if (abort !== undefined) signal.removeEventListener('abort', abort)
  }
}

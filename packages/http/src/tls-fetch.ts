/**
 * Per-client TLS trust for the one HTTP client: a `fetch` that trusts only the given CA
 * certificates, or only one exact server certificate (pinning), instead of Node's built-in roots.
 *
 * Node's global `fetch` takes no TLS options; the `undici` package (the implementation Node's fetch
 * is built from) gives an `Agent` whose connections use them, and its own `fetch` to drive it. The
 * certificate is always verified (`rejectUnauthorized` is never turned off):
 *
 * - `caPem` only: the server's chain must lead to one of these certificates, and its name must
 *   match the URL's host (Node's usual check);
 * - `pinnedCertificatePem`: the server must present exactly this certificate (DER-equal, hence the
 *   same SPKI). The chain must still verify, so the pinned certificate is added to the trust
 *   anchors: a self-signed one (what `initguard kbs serve` generates) needs nothing else; one
 *   issued by a CA needs that CA in `caPem` too. The host name is not compared: the exact
 *   certificate identifies the server more narrowly than any name in it, and a generated KBS
 *   certificate cannot know every name or address a guest reaches it by.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import type { PeerCertificate } from 'node:tls'
import { MalformedInputError } from '@initguard/core'
import { Agent, fetch as undiciFetch } from 'undici'
import { PINNED_CERTIFICATE_MISMATCH } from './network-failure.ts'

/** Whom to trust for https, in place of Node's built-in roots. */
export interface HttpTlsOptions {
  /** PEM certificates (one or more) the server's chain must lead to. */
  readonly caPem?: string
  /** The PEM certificate the server must present, exactly. */
  readonly pinnedCertificatePem?: string
}

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g

/** Every certificate in `pem`, each parsed (so a broken one is refused now, not at connect time). */
function pemCertificates(pem: string, what: string): X509Certificate[] {
  const blocks = pem.match(PEM_CERTIFICATE) ?? []
  const problem = (why: string, cause?: unknown): MalformedInputError =>
    new MalformedInputError('ERR_TLS_CERTIFICATE_INVALID', `the ${what} ${why}`, {
      details: { field: what },
      hint: 'give the certificate as PEM (-----BEGIN CERTIFICATE----- …)',
      ...(cause === undefined ? {} : { cause }),
    })
  if (blocks.length === 0) throw problem('holds no PEM certificate')
  return blocks.map((block, i) => {
    try {
      return new X509Certificate(block)
    } catch (cause) {
      throw problem(`has a certificate (#${i + 1}) that does not parse`, cause)
    }
  })
}

function sha256Fingerprint(der: Uint8Array): string {
  return new X509Certificate(der).fingerprint256
}

/** The `checkServerIdentity` of a pinned connection: the exact certificate, or an error. */
function pinCheck(pinned: X509Certificate) {
  return (_host: string, presented: PeerCertificate): Error | undefined => {
    if (Buffer.compare(presented.raw, pinned.raw) === 0) return undefined
    const error = new Error(
      `the server presented the certificate with SHA-256 fingerprint ${sha256Fingerprint(presented.raw)}, not the pinned one (${pinned.fingerprint256})`,
    )
    Object.assign(error, { code: PINNED_CERTIFICATE_MISMATCH })
    return error
  }
}

/**
 * A `fetch` whose https connections trust exactly `options` (see the module comment). With
 * neither option it is undici's `fetch` with Node's built-in roots.
 *
 * @throws {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` for PEM that holds no
 *   certificate or one that does not parse.
 */
export function tlsFetch(options: HttpTlsOptions): typeof fetch {
  const pinned =
    options.pinnedCertificatePem === undefined
      ? undefined
      : pemCertificates(options.pinnedCertificatePem, 'pinned certificate')
  if (pinned !== undefined && pinned.length !== 1)
    throw new MalformedInputError(
      'ERR_TLS_CERTIFICATE_INVALID',
      `the pinned certificate must be one certificate, not ${pinned.length}`,
      { details: { field: 'pinned certificate' }, hint: 'give only the server certificate' },
    )
  const authorities =
    options.caPem === undefined ? [] : pemCertificates(options.caPem, 'CA certificate')
  const anchors = [...(pinned ?? []), ...authorities].map((c) => c.toString())
  const agent = new Agent({
    connect: {
      ...(anchors.length === 0 ? {} : { ca: anchors }),
      ...(pinned?.[0] === undefined ? {} : { checkServerIdentity: pinCheck(pinned[0]) }),
    },
  })
  // undici's fetch is Node's own implementation, but the package's Response is its own class, not
  // the global one; the client uses only what both have (status, headers, body stream).
  return (input, init) =>
    // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- see above
    undiciFetch(
      input as Parameters<typeof undiciFetch>[0],
      { ...init, dispatcher: agent } as Parameters<typeof undiciFetch>[1],
    )
}

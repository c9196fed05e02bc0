/**
 * The KBS's TLS identity. HTTPS is the default: with `--tls-cert/--tls-key` those files are used;
 * without them a self-signed P-256 certificate is generated on first run in the data directory
 * (`tls/kbs-key.pem` mode 0600, `tls/kbs-cert.pem`) and reused on every later run, so its pin
 * stays stable. The pin is the base64 SHA-256 of the certificate's SubjectPublicKeyInfo (the
 * value `aa.toml`/`cdh.toml` users and `curl --pinnedpubkey sha256//…` take).
 *
 * The generated certificate names, as subjectAltName, `localhost`, 127.0.0.1, ::1 and the listen
 * host (as an IP address or a DNS name).
 *
 * @module
 */
import {
  X509Certificate,
  createHash,
  createPrivateKey,
  generateKeyPairSync,
  randomBytes,
} from 'node:crypto'
import { mkdir, stat } from 'node:fs/promises'
import { isIP } from 'node:net'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError } from '@initguard/core'
import { readInput, writeFileAtomic } from '@initguard/files'
import {
  X509_EXTENSION_OID,
  buildX509Certificate,
  derIa5String,
  derImplicit,
  derOctetString,
  derOid,
  derSequence,
  derToPem,
  encodeBasicConstraints,
  encodeKeyUsage,
  encodeSubjectKeyIdentifier,
  keyIdentifierOf,
} from '@initguard/tee-simulator'

/** Where the generated identity lives inside the data directory. */
export const GENERATED_TLS_FILES: {
  readonly dir: string
  readonly cert: string
  readonly key: string
} = {
  dir: 'tls',
  cert: 'tls/kbs-cert.pem',
  key: 'tls/kbs-key.pem',
}

/** A certificate and key to serve HTTPS with. */
export interface TlsIdentity {
  readonly certPem: string
  readonly keyPem: string
  /** base64 SHA-256 of the certificate's SubjectPublicKeyInfo. */
  readonly spkiPin: string
  readonly certFile: string
  readonly keyFile: string
  /** True when this call generated it. */
  readonly generated: boolean
  /** The certificate's subjectAltName as Node prints it. */
  readonly subjectAltName: string
  /** Things the operator should know (e.g. the listen host is not in the certificate). */
  readonly warnings: readonly string[]
}

const SAN_OID = '2.5.29.17'
const EKU_OID = '2.5.29.37'
const SERVER_AUTH_OID = '1.3.6.1.5.5.7.3.1'
const VALIDITY_DAYS = 5 * 365
const DAY_MS = 86_400_000

/** base64 SHA-256 of a certificate's SubjectPublicKeyInfo. */
export function spkiPin(certificate: X509Certificate): string {
  const spki = certificate.publicKey.export({ type: 'spki', format: 'der' })
  return createHash('sha256').update(spki).digest('base64')
}

function ipBytes(address: string): Uint8Array {
  if (isIP(address) === 4) return new Uint8Array(address.split('.').map(Number))
  // Expand :: and write eight 16-bit groups.
  const [head = '', tail] = address.split('::')
  const groups = (part: string): string[] => (part === '' ? [] : part.split(':'))
  const left = groups(head)
  const right = tail === undefined ? [] : groups(tail)
  const all = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right]
  return new Uint8Array(all.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]))
}

function subjectAltNames(listenHost: string): Uint8Array {
  const dns = new Set(['localhost'])
  const ips = new Set(['127.0.0.1', '::1'])
  // A wildcard listen address is no name a client uses: the loopback names cover local use.
  if (isIP(listenHost) === 0) dns.add(listenHost.toLowerCase())
  else if (listenHost !== '0.0.0.0' && listenHost !== '::') ips.add(listenHost)
  return derSequence([
    ...[...dns].map((name) => derImplicit(2, derIa5String(name))),
    ...[...ips].map((ip) => derImplicit(7, derOctetString(ipBytes(ip)))),
  ])
}

/** A self-signed P-256 server certificate for `listenHost`, valid from a day before `now`. */
export function generateSelfSignedTls(
  listenHost: string,
  now: Date,
): { certPem: string; keyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const start = new Date(Math.floor(now.getTime() / 1000) * 1000 - DAY_MS)
  const name = [{ oid: '2.5.4.3', value: 'initguard KBS (self-signed)' }]
  const serial = BigInt(`0x${randomBytes(15).toString('hex')}`) + 1n
  const der = buildX509Certificate(
    {
      serialNumber: serial,
      issuer: name,
      subject: name,
      notBefore: start,
      notAfter: new Date(start.getTime() + VALIDITY_DAYS * DAY_MS),
      publicKey,
      signatureAlgorithm: 'ecdsa-sha256',
      extensions: [
        {
          oid: X509_EXTENSION_OID.basicConstraints,
          critical: true,
          value: encodeBasicConstraints({ ca: false }),
        },
        {
          oid: X509_EXTENSION_OID.keyUsage,
          critical: true,
          value: encodeKeyUsage(['digitalSignature']),
        },
        { oid: EKU_OID, value: derSequence([derOid(SERVER_AUTH_OID)]) },
        { oid: SAN_OID, value: subjectAltNames(listenHost) },
        {
          oid: X509_EXTENSION_OID.subjectKeyIdentifier,
          value: encodeSubjectKeyIdentifier(keyIdentifierOf(publicKey)),
        },
      ],
    },
    privateKey,
  )
  return {
    certPem: derToPem(der),
    keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path)
    return true
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return false
    throw new LocalIoError('ERR_FILE_READ', `cannot stat ${JSON.stringify(path)}`, { cause: error })
  }
}

/** The refusal of a TLS private key file that group or others, or another owner, may read. */
const TLS_KEY_MODE = 'ERR_KBS_TLS_KEY_MODE'

/**
 * Read a certificate and its key, check that they belong together, and compute the pin.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_TLS_IDENTITY` for files that are not a PEM
 *   certificate and its private key; {@link LocalIoError} `ERR_KBS_TLS_KEY_MODE` for a key file
 *   that group or others may read or write, or that another user owns (as the master key file),
 *   or a key on standard input; `LocalIoError` for unreadable files.
 */
export async function loadTlsIdentity(
  certFile: string,
  keyFile: string,
  listenHost: string,
  generated = false,
): Promise<TlsIdentity> {
  const certPem = new TextDecoder().decode(
    await readInput(certFile, { what: 'TLS certificate', maxSize: 1024 * 1024 }),
  )
  // Refused as the master key file is: group or other bits, or another owner.
  const keyPem = new TextDecoder().decode(
    await readInput(keyFile, {
      what: 'TLS private key file',
      maxSize: 1024 * 1024,
      privateCode: TLS_KEY_MODE,
    }),
  )
  const refuse = (why: string, cause?: unknown): MalformedInputError =>
    new MalformedInputError(
      'ERR_KBS_TLS_IDENTITY',
      `TLS identity ${certFile} / ${keyFile}: ${why}`,
      {
        ...(cause === undefined ? {} : { cause }),
        details: { certFile, keyFile },
        hint: 'give a PEM certificate and the PEM private key of its public key',
      },
    )
  let certificate: X509Certificate
  try {
    certificate = new X509Certificate(certPem)
  } catch (cause) {
    throw refuse('the certificate is not a readable PEM certificate', cause)
  }
  try {
    if (!certificate.checkPrivateKey(createPrivateKey(keyPem)))
      throw refuse("the private key is not the certificate's key")
  } catch (cause) {
    if (cause instanceof MalformedInputError) throw cause
    throw refuse('the private key is not a readable PEM private key', cause)
  }
  const san = certificate.subjectAltName ?? ''
  const wildcard = listenHost === '0.0.0.0' || listenHost === '::'
  const named =
    wildcard ||
    (isIP(listenHost) === 0
      ? certificate.checkHost(listenHost) !== undefined
      : certificate.checkIP(listenHost) !== undefined)
  return {
    certPem,
    keyPem,
    spkiPin: spkiPin(certificate),
    certFile,
    keyFile,
    generated,
    subjectAltName: san,
    warnings: named
      ? []
      : [
          `the TLS certificate does not name the listen host ${listenHost} (it names ${san || 'nothing'}); clients connecting by that name will refuse it`,
        ],
  }
}

/**
 * The generated identity in `dataDir`: made on first run (key 0600 in a 0700 directory, written
 * atomically, key first), reused afterwards. A half-made identity (one file without the other)
 * is refused rather than replaced, so a pin that clients hold never changes silently.
 *
 * @throws {@link LocalIoError} `ERR_KBS_TLS_PARTIAL`, `ERR_KBS_TLS_KEY_MODE`, file errors.
 */
export async function ensureGeneratedTlsIdentity(
  dataDir: string,
  listenHost: string,
  now: Date,
): Promise<TlsIdentity> {
  const certFile = join(dataDir, GENERATED_TLS_FILES.cert)
  const keyFile = join(dataDir, GENERATED_TLS_FILES.key)
  const [hasCert, hasKey] = [await exists(certFile), await exists(keyFile)]
  if (hasCert !== hasKey) {
    throw new LocalIoError(
      'ERR_KBS_TLS_PARTIAL',
      `the generated TLS identity in ${join(dataDir, GENERATED_TLS_FILES.dir)} is half made`,
      {
        details: { certFile, keyFile },
        hint: 'remove both kbs-cert.pem and kbs-key.pem to generate a new one (clients pinning the old key must be updated)',
      },
    )
  }
  if (!hasCert) {
    await mkdir(join(dataDir, GENERATED_TLS_FILES.dir), { recursive: true, mode: 0o700 })
    const { certPem, keyPem } = generateSelfSignedTls(listenHost, now)
    await writeFileAtomic(keyFile, new TextEncoder().encode(keyPem), {
      what: 'TLS private key',
      mode: 0o600,
    })
    await writeFileAtomic(certFile, new TextEncoder().encode(certPem), {
      what: 'TLS certificate',
      mode: 0o644,
    })
    return loadTlsIdentity(certFile, keyFile, listenHost, true)
  }
  return loadTlsIdentity(certFile, keyFile, listenHost)
}

/**
 * Certification data: what a DCAP quote carries so that a verifier can find the PCK certificate
 * that signed the QE report. Type 5 embeds the PCK certificate chain as PEM text; types 1–4 and 7
 * only identify the PCK, which must then come from Intel's PCS or a PCCS.
 *
 * ```text
 * certification data   type u16 LE | size u32 LE | data (size bytes)
 * ```
 *
 * | type | contents                                                     | parsed as            |
 * | ---- | ------------------------------------------------------------ | -------------------- |
 * | 1    | PPID in plain text, CPUSVN, PCESVN, PCE ID                   | `unresolved`         |
 * | 2    | PPID encrypted with RSA-2048-OAEP, CPUSVN, PCESVN, PCE ID    | `unresolved`         |
 * | 3    | PPID encrypted with RSA-3072-OAEP, CPUSVN, PCESVN, PCE ID    | `unresolved`         |
 * | 4    | the PCK leaf certificate alone                               | `unresolved`         |
 * | 5    | PCK certificate chain, PEM: PCK, Platform/Processor CA, root | `pck-cert-chain`     |
 * | 6    | QE report certification data (quote v4/v5), see `quote-signature.ts` | `qe-report`  |
 * | 7    | platform manifest                                            | `unresolved`         |
 *
 * @see Intel SGX DCAP ECDSA Quote Library API, "Certification Data"; verifiers.md §3.3.
 * @module
 */
import { Buffer } from 'node:buffer'
import { ExactBytesCache, UnavailableError, base64ToBytes } from '@initguard/core'
import type { MalformedInputError } from '@initguard/core'
import { quoteError } from './parse-support.ts'

/** Certification data types (the `type` field), by name. */
export const CERTIFICATION_DATA_TYPE = {
  PPID_CLEARTEXT: 1,
  PPID_RSA2048_ENCRYPTED: 2,
  PPID_RSA3072_ENCRYPTED: 3,
  PCK_LEAF_CERT: 4,
  PCK_CERT_CHAIN: 5,
  QE_REPORT: 6,
  PLATFORM_MANIFEST: 7,
} as const

/** The types that identify the PCK without embedding its chain. */
export type UnresolvedCertificationDataType = 1 | 2 | 3 | 4 | 7

/** One certificate of an embedded chain: its PEM block and the DER inside it. */
export interface PemCertificate {
  /** The PEM block, `-----BEGIN CERTIFICATE-----` through `-----END CERTIFICATE-----`. */
  readonly pem: string
  /** The DER the block carries. */
  readonly der: Uint8Array
}

/** Certification data type 5: the PCK certificate chain, embedded as PEM text. */
export interface PckCertChainData {
  /** Discriminant. */
  readonly kind: 'pck-cert-chain'
  /** Always 5. */
  readonly type: 5
  /** The declared size of the data. */
  readonly size: number
  /** The data exactly as declared (a view into the parser's private copy), trailing NULs included. */
  readonly data: Uint8Array
  /**
   * The certificates in the order they appear: normally the PCK certificate, the Intel SGX PCK
   * Platform or Processor CA, and the Intel SGX Root CA. Nothing is verified here.
   */
  readonly certificates: readonly PemCertificate[]
}

/**
 * Certification data of types 1–4 and 7: it identifies the PCK but does not embed the chain.
 * Parsing does not fail on it; a verifier that has the PCK chain from elsewhere can continue, and
 * one that has not can throw `error`.
 */
export interface UnresolvedCertificationData {
  /** Discriminant. */
  readonly kind: 'unresolved'
  /** The certification data type. */
  readonly type: UnresolvedCertificationDataType
  /** The declared size of the data. */
  readonly size: number
  /** The data exactly as declared (a copy), uninterpreted. */
  readonly data: Uint8Array
  /** `ERR_TDX_QUOTE_PCK_NOT_EMBEDDED`: the PCK certificate chain must be supplied from elsewhere. */
  readonly error: UnavailableError
}

/** The certification data that leads to the PCK: embedded chain, or only an identifier. */
export type PckCertificationData = PckCertChainData | UnresolvedCertificationData

const PEM_BEGIN = '-----BEGIN CERTIFICATE-----'
const PEM_END = '-----END CERTIFICATE-----'

function isWhitespace(c: string | undefined): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r'
}

const CHAIN_HINT =
  'the PEM text embedded in the quote (certification data type 5) is damaged: check that the quote was not edited or re-encoded'

function chainError(
  message: string,
  details: Readonly<Record<string, number>>,
  cause?: unknown,
): MalformedInputError {
  return quoteError(
    'ERR_TDX_QUOTE_PCK_CHAIN_INVALID',
    `PCK certificate chain: ${message}`,
    details,
    {
      hint: CHAIN_HINT,
      cause,
    },
  )
}

/**
 * Split the PEM text of certification data type 5 into certificates.
 *
 * Tolerated, because real quotes carry them: NUL bytes at the very end (Intel's quote library
 * NUL-terminates the chain) and whitespace between, before and after the blocks, with LF or CRLF
 * line ends. Everything else is refused: any other byte outside the blocks, a non-certificate PEM
 * label, a block without its END line, base64 that is not canonical, or no certificate at all.
 *
 * @example
 * ```ts
 * const [pck, intermediate, root] = parsePckCertChainPem(certData)
 * new X509Certificate(pck.der)
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_QUOTE_PCK_CHAIN_INVALID`; `details` has the
 *   `position` in the data.
 */
export function parsePckCertChainPem(data: Uint8Array): PemCertificate[] {
  return copies(decodedPemChain(data))
}

/** Copies of decoded certificates, for a caller to keep (the decoded ones are shared). */
function copies(chain: readonly PemCertificate[]): PemCertificate[] {
  return chain.map((c) => ({ pem: c.pem, der: c.der.slice() }))
}

/**
 * The chain `data` holds, decoded once per distinct chain and shared: never hand these out, only
 * {@link copies} of them.
 */
function decodedPemChain(data: Uint8Array): readonly PemCertificate[] {
  let end = data.length
  while (end > 0 && data[end - 1] === 0) end -= 1
  const chain = data.subarray(0, end)
  // A platform sends the same chain in every quote: decode each distinct chain once.
  const known = PARSED_CHAINS.get([chain])
  if (known !== undefined) return known
  // latin1 maps each byte to one character, so a native regular-expression scan finds the first
  // byte that is not PEM text (printable ASCII, tab, CR, LF) at its own index.
  const certificates = decodePemChain(
    Buffer.from(chain.buffer, chain.byteOffset, chain.byteLength).toString('latin1'),
  )
  PARSED_CHAINS.set([chain], certificates)
  return certificates
}

/** Chains decoded so far, by their exact bytes (bounded; least recently used out). */
const PARSED_CHAINS = new ExactBytesCache<readonly PemCertificate[]>(64)

function decodePemChain(text: string): PemCertificate[] {
  const bad = text.search(/[^\x20-\x7e\t\r\n]/)
  if (bad >= 0) throw chainError(`byte at position ${bad} is not PEM text`, { position: bad })
  const certificates: PemCertificate[] = []
  let p = 0
  for (;;) {
    while (isWhitespace(text[p])) p += 1
    if (p >= text.length) break
    if (!text.startsWith(PEM_BEGIN, p)) {
      throw chainError(
        `expected "${PEM_BEGIN}" at position ${p}; only certificates and whitespace may appear`,
        { position: p },
      )
    }
    const bodyStart = p + PEM_BEGIN.length
    const endAt = text.indexOf(PEM_END, bodyStart)
    if (endAt < 0) {
      throw chainError(`certificate ${certificates.length + 1} at position ${p} has no END line`, {
        position: p,
      })
    }
    const body = text.slice(bodyStart, endAt).replace(/[ \t\r\n]/g, '')
    let der: Uint8Array
    try {
      der = base64ToBytes(body, { field: `PCK chain certificate ${certificates.length + 1}` })
    } catch (cause) {
      throw chainError(
        `certificate ${certificates.length + 1} at position ${p} is not valid base64`,
        { position: p },
        cause,
      )
    }
    if (der.length === 0) {
      throw chainError(`certificate ${certificates.length + 1} at position ${p} is empty`, {
        position: p,
      })
    }
    const blockEnd = endAt + PEM_END.length
    certificates.push({ pem: `${text.slice(p, blockEnd)}\n`, der })
    p = blockEnd
  }
  if (certificates.length === 0) {
    throw chainError('no certificate in the PEM text', { position: 0 })
  }
  return certificates
}

const UNRESOLVED_DESCRIPTION: Readonly<Record<UnresolvedCertificationDataType, string>> = {
  1: 'a plain-text PPID with CPUSVN, PCESVN and PCE ID',
  2: 'an RSA-2048-OAEP-encrypted PPID with CPUSVN, PCESVN and PCE ID',
  3: 'an RSA-3072-OAEP-encrypted PPID with CPUSVN, PCESVN and PCE ID',
  4: 'the PCK leaf certificate without its chain',
  7: 'a platform manifest',
}

/**
 * True for the types that lead to the PCK: 5 (embedded chain) and 1–4, 7 (identifiers only).
 *
 * @internal shared with the signature-data parser.
 */
export function isPckCertificationType(type: number): type is 5 | UnresolvedCertificationDataType {
  return type === CERTIFICATION_DATA_TYPE.PCK_CERT_CHAIN || type in UNRESOLVED_DESCRIPTION
}

/**
 * Interpret certification data of type 5 or 1–4/7 (`data` is exactly the declared bytes).
 *
 * @internal shared with the signature-data parser.
 */
export function interpretPckCertificationData(
  type: 5 | UnresolvedCertificationDataType,
  data: Uint8Array,
): PckCertificationData {
  if (type === CERTIFICATION_DATA_TYPE.PCK_CERT_CHAIN) {
    // Decoded (so a malformed chain fails the parse) but copied only when read: a verifier that
    // finds the chain verified by these exact bytes never reads the certificates.
    const decoded = decodedPemChain(data)
    let certificates: readonly PemCertificate[] | undefined
    return {
      kind: 'pck-cert-chain',
      type,
      size: data.length,
      data,
      get certificates() {
        return (certificates ??= copies(decoded))
      },
    }
  }
  return {
    kind: 'unresolved',
    type,
    size: data.length,
    data: data.slice(),
    error: new UnavailableError(
      'ERR_TDX_QUOTE_PCK_NOT_EMBEDDED',
      `the quote does not embed the PCK certificate chain: its certification data is type ${type} (${UNRESOLVED_DESCRIPTION[type]})`,
      {
        details: { certificationDataType: type, size: data.length },
        hint: "supply the platform's PCK certificate chain from Intel's PCS or a PCCS, or configure the quote provider to embed it (certification data type 5)",
      },
    ),
  }
}

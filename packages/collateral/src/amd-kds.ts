/**
 * AMD's Key Distribution Service (KDS): VCEK certificates, CA chains and CRLs, with an offline
 * store, an on-disk cache, timeouts and backoff. KDS throttles hard (HTTP 429), so every download is
 * cached and retried with exponential backoff that honours `Retry-After`.
 *
 * Endpoints (relative to `https://kdsintf.amd.com`):
 *
 * | what        | path                                                                              |
 * | ----------- | --------------------------------------------------------------------------------- |
 * | VCEK        | `/vcek/v1/{Milan,Genoa}/{hex CHIP_ID, 64 B}?blSPL=&teeSPL=&snpSPL=&ucodeSPL=`      |
 * | VCEK, Turin | `/vcek/v1/Turin/{hex of the first 8 B of CHIP_ID}?fmcSPL=&blSPL=&teeSPL=&snpSPL=&ucodeSPL=` |
 * | CA chain    | `/vcek/v1/{product}/cert_chain`, `/vlek/v1/{product}/cert_chain` (PEM: ASK/ASVK, ARK) |
 * | CRL         | `/vcek/v1/{product}/crl`, `/vlek/v1/{product}/crl`                                 |
 *
 * Every answer is checked before it is cached, and again whenever it is read back: a VCEK must be
 * the one asked for (`SEV-VCEK` with the product, hwID and TCB of the request) and be issued
 * through the trusted ASK and ARK; a CRL must be signed by the trusted ARK of the product under
 * its name, and, when it says where it is published (Issuing Distribution Point), be the list of
 * the path asked (`/vlek/…` is not `/vcek/…`: AMD signs both with the one ARK); a CA
 * chain must be the trusted ARK and an ASK/ASVK it signed. Whether any of them is valid at a given
 * time is the verifier's to judge. Without these checks, one answer from anyone on the path (a
 * forged VCEK, the VCEK of another chip, any DER SEQUENCE for a CRL) stayed in the cache and
 * failed every report of that chip for good, or of the product line for 12 hours. A CRL issued
 * before the cached one (an earlier thisUpdate) does not replace it, so a replayed CRL cannot undo
 * a revocation.
 *
 * Offline store layout (`--offline` reads only this and the cache):
 * `{store}/{product}/{hwid hex}/{tcb}.der`, where `{tcb}` is `bl02_tee00_snp06_ucode21` (Turin:
 * `fmc01_bl02_…`), falling back to `{store}/{product}/{hwid hex}/vcek.der`.
 *
 * @module
 */
import { join } from 'node:path'
import {
  MalformedInputError,
  UnavailableError,
  bytesToHex,
  constantTimeEqual,
  isInitguardError,
} from '@initguard/core'
import {
  AMD_PRODUCTION_ANCHORS,
  parseAmdCertificate,
  parseAmdCrl,
  parsePemBundle,
  productFromName,
  trustedArk,
  verifyAmdChain,
  verifyAmdRevocationList,
  type AmdCertificate,
  type SnpTrustAnchors,
} from '@initguard/snp'
import { CachedDownloader, type DownloadOptions, type DownloadRequest } from './cached-download.ts'
import { readIfExists } from './read-if-exists.ts'

/** The default KDS base URL. */
export const AMD_KDS_URL = 'https://kdsintf.amd.com'

/** A product line KDS serves. */
export type KdsProduct = 'Milan' | 'Genoa' | 'Turin'

/** The TCB components a VCEK is issued for. */
export interface KdsTcb {
  readonly fmc?: number
  readonly bootloader: number
  readonly tee: number
  readonly snp: number
  readonly microcode: number
}

/** Options for {@link AmdKdsClient}. */
export interface AmdKdsOptions extends DownloadOptions {
  /** Default {@link AMD_KDS_URL}. */
  readonly baseUrl?: string
  /** Directory laid out as described in the module documentation. */
  readonly offlineStore?: string
  /**
   * The roots every VCEK, CRL and CA chain must be issued under before it is cached; default AMD's
   * pinned production roots. Give the anchors the reports are verified with (a test PKI's, with
   * its KDS).
   */
  readonly anchors?: SnpTrustAnchors
}

const CRL_MAX_AGE_MS = 12 * 60 * 60 * 1000

/**
 * What KDS sent in place of a `what`, as a coded error: checked before the answer is cached, since
 * a VCEK and a CA chain are cached for good, and a proxy's error page or a cut answer kept there
 * would fail every report of that chip until the entry was evicted.
 */
function kdsResponseError(what: string, why: string, cause: unknown): MalformedInputError {
  return new MalformedInputError('ERR_KDS_RESPONSE', `AMD KDS sent a ${what} that ${why}`, {
    cause,
    hint: 'it was not cached; try again (a proxy between here and KDS may have answered), or give it as a file',
  })
}

/**
 * Run an answer's checks: a refusal of the verifier's (a coded error) becomes `ERR_KDS_RESPONSE`
 * naming the document, so the answer is not cached and a cached copy is a miss.
 */
function genuine<T>(what: string, check: () => T): T {
  try {
    return check()
  } catch (cause) {
    if (!isInitguardError(cause) || cause.code === 'ERR_KDS_RESPONSE') throw cause
    throw kdsResponseError(what, `is not genuine: ${cause.message}`, cause)
  }
}

/** A document that is not the one asked for (another chip's VCEK, another product's chain). */
function notAsked(what: string, why: string): MalformedInputError {
  return kdsResponseError(what, why, undefined)
}

/** The verifier's refusals that are about time: judged by the verifier at its own time, not here. */
const VALIDITY_CODES = new Set(['ERR_SNP_CERT_EXPIRED', 'ERR_SNP_CERT_NOT_YET_VALID'])

/**
 * Check that `der` is the VCEK of `chipId` at `tcb` on `product`, issued through the trusted ASK
 * and ARK (signatures and roles; not its validity at any time).
 */
function checkVcek(
  der: Uint8Array,
  request: { product: KdsProduct; chipId: Uint8Array; tcb: KdsTcb },
  anchors: SnpTrustAnchors,
  now: Date,
): void {
  const { product, chipId, tcb } = request
  const vcek: AmdCertificate = parseAmdCertificate(der, 'VCEK')
  const { productName, hwId, tcb: issued } = vcek.amd
  if (vcek.commonName !== 'SEV-VCEK')
    throw notAsked('VCEK', `is ${vcek.commonName || 'a certificate without a CN'}, not SEV-VCEK`)
  if (productName === undefined || productFromName(productName) !== product)
    throw notAsked('VCEK', `is for ${productName ?? 'no product'}, not ${product}`)
  const expectedHwId = product === 'Turin' ? chipId.subarray(0, 8) : chipId
  if (hwId === undefined || !constantTimeEqual(hwId, expectedHwId))
    throw notAsked('VCEK', 'belongs to another chip (its hwID is not the CHIP_ID asked for)')
  const asked = { ...tcb, fmc: product === 'Turin' ? (tcb.fmc ?? 0) : undefined }
  const differs = (['bootloader', 'tee', 'snp', 'microcode', 'fmc'] as const).filter(
    (c) => issued?.[c] !== asked[c],
  )
  if (differs.length > 0)
    throw notAsked('VCEK', `was issued for another TCB (${differs.join(', ')} differ)`)
  // Anchors of only an ARK (the CLI's --trust-root without the ASK, which the evidence then
  // carries) leave nothing here to check the VCEK's signature with: the verifier checks it.
  if (anchors.roots[product]?.ask === '') return
  try {
    verifyAmdChain(product, 'vcek', { endorsement: vcek }, anchors, now)
  } catch (error) {
    if (!isInitguardError(error) || !VALIDITY_CODES.has(error.code)) throw error
  }
}

/** OpenSSL throws, rather than answering false, on some malformed signatures: both mean no. */
function signedBy(certificate: AmdCertificate, issuer: AmdCertificate): boolean {
  try {
    return certificate.x509.verify(issuer.publicKey)
  } catch {
    return false
  }
}

/** Check that `pem` is the product's ASK (or ASVK) and then the trusted ARK, which signed it. */
function checkCertChain(
  pem: string,
  product: KdsProduct,
  kind: 'vcek' | 'vlek',
  anchors: SnpTrustAnchors,
): void {
  const certificates = parsePemBundle(pem, `${product} ${kind.toUpperCase()} CA chain`)
  const [intermediate, root] = certificates
  const ark = trustedArk(anchors, product)
  const expected = kind === 'vcek' ? `SEV-${product}` : `SEV-VLEK-${product}`
  const what = `${product} ${kind.toUpperCase()} CA chain`
  if (certificates.length !== 2 || intermediate === undefined || root === undefined)
    throw notAsked(
      what,
      `has ${certificates.length} certificates, not ${expected} and ARK-${product}`,
    )
  if (root.fingerprint !== ark.fingerprint)
    throw notAsked(
      what,
      `ends at ${root.commonName || 'a certificate'} that is not the trusted ARK`,
    )
  if (intermediate.commonName !== expected || !signedBy(intermediate, ark))
    throw notAsked(
      what,
      `starts with ${intermediate.commonName || 'a certificate'}, not the ${expected} the ARK signed`,
    )
}

/** A CRL's nextUpdate; `undefined` when it has none or does not parse (the check refuses those). */
function nextUpdateOf(der: Uint8Array): Date | undefined {
  try {
    return parseAmdCrl(der).nextUpdate
  } catch {
    return undefined
  }
}

function tcbName(product: KdsProduct, tcb: KdsTcb): string {
  const two = (n: number): string => n.toString().padStart(2, '0')
  const parts = [
    `bl${two(tcb.bootloader)}`,
    `tee${two(tcb.tee)}`,
    `snp${two(tcb.snp)}`,
    `ucode${two(tcb.microcode)}`,
  ]
  return product === 'Turin' ? [`fmc${two(tcb.fmc ?? 0)}`, ...parts].join('_') : parts.join('_')
}

/** The hwID KDS names a chip by: the whole 64-byte CHIP_ID, or its first 8 bytes on Turin. */
export function kdsHardwareId(product: KdsProduct, chipId: Uint8Array): string {
  return bytesToHex(product === 'Turin' ? chipId.subarray(0, 8) : chipId)
}

/** The KDS path of a VCEK. */
export function vcekPath(product: KdsProduct, chipId: Uint8Array, tcb: KdsTcb): string {
  const query = [
    ...(product === 'Turin' ? [`fmcSPL=${tcb.fmc ?? 0}`] : []),
    `blSPL=${tcb.bootloader}`,
    `teeSPL=${tcb.tee}`,
    `snpSPL=${tcb.snp}`,
    `ucodeSPL=${tcb.microcode}`,
  ].join('&')
  return `/vcek/v1/${product}/${kdsHardwareId(product, chipId)}?${query}`
}

/** A client for AMD KDS with the offline store and cache in front of it. */
export class AmdKdsClient {
  readonly #options: AmdKdsOptions
  readonly #baseUrl: string
  readonly #anchors: SnpTrustAnchors
  readonly #clock: () => Date
  readonly #downloader: CachedDownloader

  constructor(options: AmdKdsOptions = {}) {
    this.#options = options
    this.#anchors = options.anchors ?? AMD_PRODUCTION_ANCHORS
    this.#clock = options.clock ?? ((): Date => new Date())
    this.#baseUrl = (options.baseUrl ?? AMD_KDS_URL).replace(/\/+$/, '')
    this.#downloader = new CachedDownloader('AMD KDS', 'KDS', options)
  }

  /**
   * The VCEK (DER) for a chip at a TCB.
   *
   * @throws {@link UnavailableError} `ERR_KDS_UNAVAILABLE`, `ERR_KDS_DEADLINE`, `ERR_KDS_UNREACHABLE`, `ERR_KDS_NOT_FOUND`, `ERR_KDS_OFFLINE`,
   *   `ERR_KDS_CHIP_ID_MASKED`; {@link MalformedInputError} `ERR_KDS_RESPONSE` for an answer that is
   *   not the VCEK of this chip at this TCB, issued through the trusted ASK (not cached). A VCEK
   *   from the offline store is the caller's own and is not checked here.
   */
  async vcek(product: KdsProduct, chipId: Uint8Array, tcb: KdsTcb): Promise<Uint8Array> {
    if (chipId.every((b) => b === 0)) {
      throw new UnavailableError(
        'ERR_KDS_CHIP_ID_MASKED',
        "the report's CHIP_ID is masked (all zero), so KDS cannot name the VCEK",
        { hint: 'give the VCEK with --certs, or use reports from a guest without MASK_CHIP_ID' },
      )
    }
    const store = this.#options.offlineStore
    if (store !== undefined) {
      const folder = join(store, product, kdsHardwareId(product, chipId))
      for (const name of [`${tcbName(product, tcb)}.der`, 'vcek.der']) {
        const bytes = await readIfExists(join(folder, name))
        if (bytes !== undefined) return bytes
      }
    }
    return this.#download(
      vcekPath(product, chipId, tcb),
      'VCEK',
      'give the VCEK with --certs FILE',
      {
        notFoundHint: 'check the product line, CHIP_ID and TCB values',
        check: ({ body }) => {
          genuine('VCEK', () => {
            checkVcek(body, { product, chipId, tcb }, this.#anchors, this.#clock())
          })
        },
      },
    )
  }

  /**
   * The CA chain (PEM: ASK or ASVK, then ARK) of a product line.
   *
   * @throws as {@link AmdKdsClient.vcek}; `ERR_KDS_RESPONSE` for an answer that is not the
   *   product's ASK (ASVK) and then the trusted ARK that signed it (not cached).
   */
  async certChain(product: KdsProduct, kind: 'vcek' | 'vlek'): Promise<string> {
    const what = `${product} ${kind.toUpperCase()} CA chain`
    const bytes = await this.#download(
      `/${kind}/v1/${product}/cert_chain`,
      what,
      'give the CA chain with --certs FILE',
      {
        check: ({ body }) => {
          genuine(what, () => {
            checkCertChain(new TextDecoder().decode(body), product, kind, this.#anchors)
          })
        },
      },
    )
    return new TextDecoder().decode(bytes)
  }

  /**
   * The CRL (DER) of a product line's VCEK or VLEK hierarchy.
   *
   * @param options.refresh - download it again online even when the cached copy is young: for a
   *   caller that found the cached CRL past its nextUpdate (offline, the cache is all there is).
   * @throws as {@link AmdKdsClient.vcek}; `ERR_KDS_RESPONSE` for an answer that is not a CRL the
   *   product's trusted ARK signed (not cached).
   */
  async crl(
    product: KdsProduct,
    kind: 'vcek' | 'vlek',
    options: { readonly refresh?: boolean } = {},
  ): Promise<Uint8Array> {
    // A CRL changes; a cached one is used for 12 hours online (never past its nextUpdate), and
    // for as long as needed offline.
    const refresh = options.refresh === true
    const what = `${product} ${kind.toUpperCase()} CRL`
    return this.#download(`/${kind}/v1/${product}/crl`, what, 'give the CRL with --crl FILE', {
      fresh: ({ body }, ageMs, now) =>
        !refresh && ageMs < CRL_MAX_AGE_MS && now < (nextUpdateOf(body) ?? now),
      // One issued before the cached one (whoever answers may replay it) may lack a revocation.
      older: (downloaded, cached) =>
        parseAmdCrl(downloaded.body).thisUpdate < parseAmdCrl(cached.body).thisUpdate,
      check: ({ body }) =>
        genuine(what, () =>
          verifyAmdRevocationList(body, trustedArk(this.#anchors, product), product, kind),
        ),
    })
  }

  async #download(
    path: string,
    what: string,
    insteadHint: string,
    more: Pick<DownloadRequest, 'notFoundHint' | 'fresh' | 'check' | 'older'> = {},
  ): Promise<Uint8Array> {
    const downloaded = await this.#downloader.get({
      url: this.#baseUrl + path,
      // Keyed by path, not host: every KDS mirror serves the same certificates, and they are verified anyway.
      cacheKey: path,
      what,
      insteadHint,
      ...more,
    })
    return downloaded.body
  }
}

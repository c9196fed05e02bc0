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
 * Offline store layout (`--offline` reads only this and the cache):
 * `{store}/{product}/{hwid hex}/{tcb}.der`, where `{tcb}` is `bl02_tee00_snp06_ucode21` (Turin:
 * `fmc01_bl02_…`), falling back to `{store}/{product}/{hwid hex}/vcek.der`.
 *
 * @module
 */
import { join } from 'node:path'
import { MalformedInputError, UnavailableError, bytesToHex, pemCertificates } from '@initguard/core'
import {
  CachedDownloader,
  type Downloaded,
  type DownloadOptions,
  type DownloadRequest,
} from './cached-download.ts'
import { notOneDerSequence } from './der-answer.ts'
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

/** Checks that an answer is one DER SEQUENCE (a certificate or a CRL) and nothing else. */
function oneDerSequence(what: string): (downloaded: Downloaded) => void {
  return ({ body }) => {
    const problem = notOneDerSequence(body, what)
    if (problem !== undefined) throw kdsResponseError(what, problem.why, problem.cause)
  }
}

/** Checks that an answer is PEM text of certificates that parse. */
function pemChain(what: string): (downloaded: Downloaded) => void {
  return ({ body }) => {
    try {
      pemCertificates(new TextDecoder().decode(body), what)
    } catch (cause) {
      throw kdsResponseError(what, 'is not PEM certificates', cause)
    }
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
  readonly #downloader: CachedDownloader

  constructor(options: AmdKdsOptions = {}) {
    this.#options = options
    this.#baseUrl = (options.baseUrl ?? AMD_KDS_URL).replace(/\/+$/, '')
    this.#downloader = new CachedDownloader('AMD KDS', 'KDS', options)
  }

  /**
   * The VCEK (DER) for a chip at a TCB.
   *
   * @throws {@link UnavailableError} `ERR_KDS_UNAVAILABLE`, `ERR_KDS_UNREACHABLE`, `ERR_KDS_NOT_FOUND`, `ERR_KDS_OFFLINE`,
   *   `ERR_KDS_CHIP_ID_MASKED`; {@link MalformedInputError} `ERR_KDS_RESPONSE` for an answer that is
   *   not one DER SEQUENCE (not cached).
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
        check: oneDerSequence('VCEK'),
      },
    )
  }

  /**
   * The CA chain (PEM: ASK or ASVK, then ARK) of a product line.
   *
   * @throws as {@link AmdKdsClient.vcek}; `ERR_KDS_RESPONSE` for an answer that is not PEM
   *   certificates that parse (not cached).
   */
  async certChain(product: KdsProduct, kind: 'vcek' | 'vlek'): Promise<string> {
    const what = `${product} ${kind.toUpperCase()} CA chain`
    const bytes = await this.#download(
      `/${kind}/v1/${product}/cert_chain`,
      what,
      'give the CA chain with --certs FILE',
      { check: pemChain(what) },
    )
    return new TextDecoder().decode(bytes)
  }

  /**
   * The CRL (DER) of a product line's VCEK or VLEK hierarchy.
   *
   * @param options.refresh - download it again online even when the cached copy is young: for a
   *   caller that found the cached CRL past its nextUpdate (offline, the cache is all there is).
   * @throws as {@link AmdKdsClient.vcek}; `ERR_KDS_RESPONSE` for an answer that is not one DER
   *   SEQUENCE (not cached).
   */
  async crl(
    product: KdsProduct,
    kind: 'vcek' | 'vlek',
    options: { readonly refresh?: boolean } = {},
  ): Promise<Uint8Array> {
    // A CRL changes; a cached one is used for 12 hours online, and for as long as needed offline.
    const refresh = options.refresh === true
    return this.#download(
      `/${kind}/v1/${product}/crl`,
      `${product} ${kind.toUpperCase()} CRL`,
      'give the CRL with --crl FILE',
      {
        fresh: (_cached, ageMs) => !refresh && ageMs < CRL_MAX_AGE_MS,
        check: oneDerSequence(`${product} CRL`),
      },
    )
  }

  async #download(
    path: string,
    what: string,
    insteadHint: string,
    more: Pick<DownloadRequest, 'notFoundHint' | 'fresh' | 'check'> = {},
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

/**
 * Intel DCAP collateral from Intel's Provisioning Certification Service (PCS v4) or any PCCS:
 * TCB info, QE identity, the PCK CRL and the Root CA CRL, each with its issuer chain, through the
 * on-disk cache. TCB info and QE identity are used from the cache until their `nextUpdate`; CRLs
 * for 12 hours; offline, whatever is cached.
 *
 * | what            | path (relative to the PCS/PCCS base)                                  | issuer-chain header                 |
 * | --------------- | --------------------------------------------------------------------- | ----------------------------------- |
 * | TCB info        | `/{tdx,sgx}/certification/v4/tcb?fmspc={hex}`                          | `TCB-Info-Issuer-Chain`             |
 * | QE identity     | `/{tdx,sgx}/certification/v4/qe/identity`                              | `SGX-Enclave-Identity-Issuer-Chain` |
 * | PCK CRL         | `/sgx/certification/v4/pckcrl?ca={platform,processor}&encoding=der`    | `SGX-PCK-CRL-Issuer-Chain`          |
 * | Root CA CRL     | PCS: `https://certificates.trustedservices.intel.com/IntelSGXRootCA.der`; PCCS: `/sgx/certification/v4/rootcacrl` | — |
 *
 * @module
 */
import { MalformedInputError, UsageError, hexToBytes } from '@initguard/core'
import {
  CachedDownloader,
  type Downloaded,
  type DownloadOptions,
  type DownloadRequest,
} from './cached-download.ts'
import { notOneDerSequence } from './der-answer.ts'
import { checkDownloadLimits } from './download-limits.ts'

/** Intel's PCS. */
export const INTEL_PCS_URL = 'https://api.trustedservices.intel.com'
/** Where Intel publishes the SGX Root CA's CRL. */
export const INTEL_ROOT_CA_CRL_URL =
  'https://certificates.trustedservices.intel.com/IntelSGXRootCA.der'

const CRL_MAX_AGE_MS = 12 * 60 * 60 * 1000

/**
 * The distinct downloads one TDX/SGX quote starts at once when none of its collateral is cached:
 * TCB info, QE identity, PCK CRL, Root CA CRL. A bound of fewer downloads at once plus waiting
 * would refuse some of them `ERR_PCS_BUSY` every time, so no cold quote could ever verify.
 */
export const PCS_DOWNLOADS_PER_QUOTE = 4

/** Options for {@link IntelPcsClient}. */
export interface IntelPcsOptions extends DownloadOptions {
  /** PCS or PCCS base URL; default {@link INTEL_PCS_URL}. */
  readonly baseUrl?: string
  /** Where the Root CA CRL is; default Intel's for PCS, `{base}/sgx/certification/v4/rootcacrl` for a PCCS. */
  readonly rootCaCrlUrl?: string
}

/** What to fetch collateral for. */
export interface CollateralRequest {
  readonly tee: 'tdx' | 'sgx'
  /** FMSPC from the PCK certificate, hex (6 bytes). */
  readonly fmspc: string
  /** Which CA issued the PCK certificate. */
  readonly ca: 'platform' | 'processor'
}

/** Collateral as the service sends it: bodies and issuer chains, not yet verified. */
export interface RawDcapCollateral {
  /** The TCB info response body (`{"tcbInfo": …, "signature": …}`), exact text. */
  readonly tcbInfoBody: string
  readonly tcbInfoIssuerChain: string
  /** The QE identity response body (`{"enclaveIdentity": …, "signature": …}`), exact text. */
  readonly qeIdentityBody: string
  readonly qeIdentityIssuerChain: string
  /** DER. */
  readonly pckCrl: Uint8Array
  readonly pckCrlIssuerChain: string
  /** DER. */
  readonly rootCaCrl: Uint8Array
}

/** How to verify without downloads, for the hints of every download error. */
const COLLATERAL_INSTEAD =
  "give the collateral with --collateral FILE (a collateral.json, or Intel PCS's documents), or a reachable PCCS with --pccs URL"

/** A client for Intel PCS v4 or a PCCS. */
export class IntelPcsClient {
  readonly #baseUrl: string
  readonly #rootCaCrlUrl: string
  readonly #downloader: CachedDownloader

  /**
   * @throws {@link UsageError} `ERR_DOWNLOAD_LIMITS` for a malformed bound, or one where
   *   `maxConcurrentDownloads + maxQueuedDownloads` is less than {@link PCS_DOWNLOADS_PER_QUOTE};
   *   `ERR_CACHE_BOUND` for a malformed `cacheBound`.
   */
  constructor(options: IntelPcsOptions = {}) {
    this.#baseUrl = (options.baseUrl ?? INTEL_PCS_URL).replace(/\/+$/, '')
    this.#rootCaCrlUrl =
      options.rootCaCrlUrl ??
      (options.baseUrl === undefined
        ? INTEL_ROOT_CA_CRL_URL
        : `${this.#baseUrl}/sgx/certification/v4/rootcacrl`)
    this.#downloader = new CachedDownloader('Intel PCS', 'PCS', options)
    refuseTooFewForAQuote(options)
  }

  /**
   * All collateral for a quote.
   *
   * @throws {@link UnavailableError} `ERR_PCS_UNAVAILABLE`, `ERR_PCS_UNREACHABLE`, `ERR_PCS_NOT_FOUND`,
   *   `ERR_PCS_OFFLINE`, `ERR_PCS_BUSY` (the download bound is taken by other downloads);
   *   {@link MalformedInputError} `ERR_PCS_RESPONSE` for a response without its issuer chain, with
   *   one that is not percent-encoded, or a CRL that is not one whole DER SEQUENCE (sent as DER,
   *   hex or PEM); such a response is not cached.
   */
  async collateral(request: CollateralRequest): Promise<RawDcapCollateral> {
    if (!/^[0-9a-fA-F]{12}$/.test(request.fmspc)) {
      throw new MalformedInputError(
        'ERR_PCS_FMSPC',
        `FMSPC ${JSON.stringify(request.fmspc)} is not 6 bytes of hex`,
      )
    }
    const fmspc = request.fmspc.toLowerCase()
    const [tcbInfo, qeIdentity, pckCrl, rootCaCrl] = await Promise.all([
      this.#get(
        `/${request.tee}/certification/v4/tcb?fmspc=${fmspc}`,
        `${request.tee.toUpperCase()} TCB info for FMSPC ${fmspc}`,
        'tcb-info-issuer-chain',
        untilNextUpdate('tcbInfo'),
      ),
      this.#get(
        `/${request.tee}/certification/v4/qe/identity`,
        `${request.tee.toUpperCase()} QE identity`,
        'sgx-enclave-identity-issuer-chain',
        untilNextUpdate('enclaveIdentity'),
      ),
      this.#get(
        `/sgx/certification/v4/pckcrl?ca=${request.ca}&encoding=der`,
        `PCK ${request.ca} CA CRL`,
        'sgx-pck-crl-issuer-chain',
        youngerThan(CRL_MAX_AGE_MS),
        (body) => crlBytes(body, 'PCK CRL'),
      ),
      this.#downloader.get({
        url: this.#rootCaCrlUrl,
        cacheKey: 'root-ca-crl',
        what: 'Intel SGX Root CA CRL',
        fresh: youngerThan(CRL_MAX_AGE_MS),
        check: (downloaded) => crlBytes(downloaded.body, 'Root CA CRL'),
        insteadHint: COLLATERAL_INSTEAD,
      }),
    ])
    return {
      tcbInfoBody: new TextDecoder().decode(tcbInfo.body),
      tcbInfoIssuerChain: issuerChain(tcbInfo, 'tcb-info-issuer-chain'),
      qeIdentityBody: new TextDecoder().decode(qeIdentity.body),
      qeIdentityIssuerChain: issuerChain(qeIdentity, 'sgx-enclave-identity-issuer-chain'),
      pckCrl: crlBytes(pckCrl.body, 'PCK CRL'),
      pckCrlIssuerChain: issuerChain(pckCrl, 'sgx-pck-crl-issuer-chain'),
      rootCaCrl: crlBytes(rootCaCrl.body, 'Root CA CRL'),
    }
  }

  #get(
    path: string,
    what: string,
    header: string,
    fresh: NonNullable<DownloadRequest['fresh']>,
    checkBody?: (body: Uint8Array) => unknown,
  ): Promise<Downloaded> {
    return this.#downloader.get({
      url: this.#baseUrl + path,
      cacheKey: path,
      what,
      keepHeaders: [header],
      fresh,
      // Damaged answers are not cached: the next request fetches again.
      check: (downloaded) => {
        issuerChain(downloaded, header)
        checkBody?.(downloaded.body)
      },
      insteadHint: COLLATERAL_INSTEAD,
    })
  }
}

/** Refuse a (well-formed) bound that could never admit the downloads of one cold quote. */
function refuseTooFewForAQuote(options: IntelPcsOptions): void {
  const { maxConcurrent, maxQueued } = checkDownloadLimits(options)
  if (maxConcurrent + maxQueued >= PCS_DOWNLOADS_PER_QUOTE) return
  throw new UsageError(
    'ERR_DOWNLOAD_LIMITS',
    `maxConcurrentDownloads ${maxConcurrent} + maxQueuedDownloads ${maxQueued} is fewer than the ${PCS_DOWNLOADS_PER_QUOTE} Intel PCS downloads one TDX/SGX quote starts at once when its collateral is not cached (TCB info, QE identity, PCK CRL, Root CA CRL): every such quote would be refused ERR_PCS_BUSY`,
    {
      details: { maxConcurrent, maxQueued, needed: PCS_DOWNLOADS_PER_QUOTE },
      hint: `give maxConcurrentDownloads + maxQueuedDownloads of at least ${PCS_DOWNLOADS_PER_QUOTE} (e.g. 1 and ${PCS_DOWNLOADS_PER_QUOTE - 1})`,
    },
  )
}

function youngerThan(maxAgeMs: number): (cached: Downloaded, ageMs: number) => boolean {
  return (_cached, ageMs) => ageMs < maxAgeMs
}

/**
 * Fresh while the document's own `nextUpdate` is later than the downloader's clock (its `clock`
 * option, not this host's: a caller that verifies as of another time refreshes by that time too).
 * Trust is decided later, by the verifier.
 */
function untilNextUpdate(field: string): NonNullable<DownloadRequest['fresh']> {
  return (cached, _ageMs, now) => {
    try {
      const body = JSON.parse(new TextDecoder().decode(cached.body)) as Record<
        string,
        { nextUpdate?: unknown } | undefined
      >
      const next = body[field]?.nextUpdate
      return typeof next === 'string' && Date.parse(next) > now.getTime()
    } catch {
      return false
    }
  }
}

function issuerChain(response: Downloaded, header: string): string {
  const value = response.headers[header]
  if (value === undefined) {
    throw new MalformedInputError(
      'ERR_PCS_RESPONSE',
      `the collateral response has no ${header} header`,
      {
        hint: 'the PCS/PCCS URL may be wrong, or a proxy strips headers',
      },
    )
  }
  try {
    return decodeURIComponent(value)
  } catch {
    // A broken percent escape: decodeURIComponent's URIError is no error of this project's.
    throw new MalformedInputError(
      'ERR_PCS_RESPONSE',
      `the collateral response's ${header} header is not percent-encoded PEM`,
      {
        hint: 'the PCS/PCCS sent a damaged issuer chain; check the PCCS, or give --collateral FILE',
      },
    )
  }
}

/**
 * CRLs arrive as DER, as hex text (some PCCS versions) or as PEM; whichever, the bytes must be one
 * whole DER SEQUENCE, so that a CRL cut short (or text that merely starts with the byte 0x30, the
 * character "0") is refused before it is cached, not kept for 12 hours to fail every quote.
 */
function crlBytes(body: Uint8Array, what: string): Uint8Array {
  const der = crlEncoding(body, what)
  const problem = notOneDerSequence(der, what)
  if (problem !== undefined)
    throw new MalformedInputError('ERR_PCS_RESPONSE', `the ${what} ${problem.why}`, {
      cause: problem.cause,
      hint: 'the PCS/PCCS sent a damaged CRL (not cached); try again, or give --collateral FILE',
    })
  return der
}

function crlEncoding(body: Uint8Array, what: string): Uint8Array {
  if (body[0] === 0x30) return body
  const text = new TextDecoder().decode(body).trim()
  const pem = /^-----BEGIN X509 CRL-----([\s\S]*)-----END X509 CRL-----$/.exec(text)
  if (pem !== null) return new Uint8Array(Buffer.from((pem[1] ?? '').replace(/\s+/g, ''), 'base64'))
  if (/^[0-9a-fA-F]+$/.test(text)) return hexToBytes(text, { field: what })
  throw new MalformedInputError('ERR_PCS_RESPONSE', `the ${what} is neither DER, hex nor PEM`)
}

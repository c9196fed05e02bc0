/**
 * Intel DCAP collateral from Intel's Provisioning Certification Service (PCS v4) or any PCCS:
 * TCB info, QE identity, the PCK CRL and the Root CA CRL, each with its issuer chain, through the
 * on-disk cache. Online, each document is used from the cache for 12 hours and never past its
 * `nextUpdate` (Intel issues a new TCB evaluation, or a CRL with a new revocation, before the
 * cached one's nextUpdate, which is weeks away); offline, whatever is cached.
 *
 * Each document is checked before it is cached, and again whenever it is read back: signed by
 * Intel (its issuer chain ends at the trusted root, and the signature over its exact bytes
 * verifies) and the one asked for (the TCB info of the FMSPC and TEE asked for, the QE identity of
 * that TEE, the PCK CRL of that CA). Whether it is current is the verifier's to judge at its own
 * time. Without these checks the cache believed what anyone on the path answered: a forged TCB
 * info whose `nextUpdate` is decades away would be kept, and would fail every quote of its FMSPC,
 * for that long; Intel's genuine TCB info of another FMSPC, or any DER SEQUENCE for a CRL, until
 * the entry's time ran out.
 *
 * A genuine document older than the cached copy it would replace (a CRL with an earlier
 * thisUpdate, a TCB info or QE identity of a lower tcbEvaluationDataNumber) does not replace it:
 * the cached copy is answered, so a replayed CRL cannot undo a revocation, nor a replayed TCB info
 * a TCB recovery. Without a cache directory (or after it is lost) there is nothing to compare
 * with: a relying party that must not accept an evaluation before a recovery says so in policy.
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
import { MalformedInputError, UsageError, hexToBytes, isInitguardError } from '@initguard/core'
import {
  checkPcsDocumentRoot,
  parseX509Crl,
  verifyPcsPckCrl,
  verifyPcsQeIdentity,
  verifyPcsRootCaCrl,
  verifyPcsTcbInfo,
  type PcsResponse,
} from '@initguard/tdx'
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

/** How long a cached document is used online before it is fetched again. */
const REFRESH_AFTER_MS = 12 * 60 * 60 * 1000

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
  /**
   * The root (PEM) every document's signature must chain to before it is cached; default Intel's
   * SGX Root CA. Give the one the quotes are verified with (a test PKI's, with its PCCS).
   */
  readonly root?: string
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
  readonly #root: string | undefined
  readonly #downloader: CachedDownloader

  /**
   * @throws {@link UsageError} `ERR_DOWNLOAD_LIMITS` for a malformed bound, or one where
   *   `maxConcurrentDownloads + maxQueuedDownloads` is less than {@link PCS_DOWNLOADS_PER_QUOTE};
   *   `ERR_CACHE_BOUND` for a malformed `cacheBound`; {@link MalformedInputError}
   *   `ERR_TDX_ROOT_INVALID` (and the certificate reader's codes) for a `root` that is not a
   *   self-signed certificate.
   */
  constructor(options: IntelPcsOptions = {}) {
    // A root that is no root is refused now, not at the first download.
    checkPcsDocumentRoot(options.root)
    this.#root = options.root
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
   * @throws {@link UnavailableError} `ERR_PCS_UNAVAILABLE`, `ERR_PCS_DEADLINE`, `ERR_PCS_UNREACHABLE`, `ERR_PCS_NOT_FOUND`,
   *   `ERR_PCS_OFFLINE`, `ERR_PCS_BUSY` (the download bound is taken by other downloads);
   *   {@link MalformedInputError} `ERR_PCS_RESPONSE` for a response without its issuer chain, one
   *   that is not percent-encoded PEM, a document not signed through that chain by the trusted
   *   root, or not the one asked for (TCB info of another FMSPC or TEE, the QE identity of the
   *   other TEE, the other CA's PCK CRL); such a response is not cached.
   */
  async collateral(request: CollateralRequest): Promise<RawDcapCollateral> {
    if (!/^[0-9a-fA-F]{12}$/.test(request.fmspc)) {
      throw new MalformedInputError(
        'ERR_PCS_FMSPC',
        `FMSPC ${JSON.stringify(request.fmspc)} is not 6 bytes of hex`,
      )
    }
    const fmspc = request.fmspc.toLowerCase()
    const tee = request.tee === 'sgx' ? 'SGX' : 'TDX'
    const qe = request.tee === 'sgx' ? 'QE' : 'TD_QE'
    const root = this.#root
    const [tcbInfo, qeIdentity, pckCrl, rootCaCrl] = await Promise.all([
      this.#get(
        `/${request.tee}/certification/v4/tcb?fmspc=${fmspc}`,
        `${tee} TCB info for FMSPC ${fmspc}`,
        'tcb-info-issuer-chain',
        { fresh: untilNextUpdate('tcbInfo'), older: olderDocument('tcbInfo') },
        (response) => {
          const info = verifyPcsTcbInfo(response, root)
          if (info.id !== tee || info.fmspc !== fmspc)
            return `is the ${info.id} TCB info of FMSPC ${info.fmspc}`
          return undefined
        },
      ),
      this.#get(
        `/${request.tee}/certification/v4/qe/identity`,
        `${tee} QE identity`,
        'sgx-enclave-identity-issuer-chain',
        { fresh: untilNextUpdate('enclaveIdentity'), older: olderDocument('enclaveIdentity') },
        (response) => {
          const identity = verifyPcsQeIdentity(response, root)
          return identity.id === qe ? undefined : `is the ${identity.id} identity, not ${qe}`
        },
      ),
      this.#get(
        `/sgx/certification/v4/pckcrl?ca=${request.ca}&encoding=der`,
        `PCK ${request.ca} CA CRL`,
        'sgx-pck-crl-issuer-chain',
        { fresh: crlFresh('PCK CRL'), older: olderCrl('PCK CRL') },
        (response) => {
          const { ca } = verifyPcsPckCrl(response, root)
          return ca === request.ca ? undefined : `is the PCK ${ca} CA's`
        },
      ),
      this.#downloader.get({
        url: this.#rootCaCrlUrl,
        cacheKey: 'root-ca-crl',
        what: 'Intel SGX Root CA CRL',
        fresh: crlFresh('Root CA CRL'),
        older: olderCrl('Root CA CRL'),
        check: (downloaded) => {
          genuine('Intel SGX Root CA CRL', () => {
            verifyPcsRootCaCrl(downloaded.body, root)
            return undefined
          })
        },
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

  /**
   * One document with its issuer-chain header, `verify`d (genuine, and `undefined` when it is the
   * one asked for, else what it is instead) before it is cached and whenever it is read back.
   */
  #get(
    path: string,
    what: string,
    header: string,
    cache: Required<Pick<DownloadRequest, 'fresh' | 'older'>>,
    verify: (response: PcsResponse) => string | undefined,
  ): Promise<Downloaded> {
    return this.#downloader.get({
      url: this.#baseUrl + path,
      cacheKey: path,
      what,
      keepHeaders: [header],
      ...cache,
      // Damaged answers are not cached: the next request fetches again.
      check: (downloaded) => {
        const chain = issuerChain(downloaded, header)
        genuine(what, () => verify({ body: downloaded.body, issuerChain: chain }))
      },
      insteadHint: COLLATERAL_INSTEAD,
    })
  }
}

/**
 * Run a document's checks: the verifier's refusal (forged, damaged, not chained to the root) or
 * `mismatch` (genuine, but not what was asked for) becomes `ERR_PCS_RESPONSE` naming the document,
 * a coded error, so the answer is not cached and a cached copy is a miss.
 */
function genuine(what: string, check: () => string | undefined): void {
  let mismatch: string | undefined
  try {
    mismatch = check()
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    throw new MalformedInputError(
      'ERR_PCS_RESPONSE',
      `the ${what} the PCS/PCCS sent is not genuine: ${cause.message}`,
      {
        cause,
        details: { what, reason: cause.code },
        hint: 'it was not cached; try again (something between here and the PCS/PCCS may have answered), or give --collateral FILE',
      },
    )
  }
  if (mismatch !== undefined) {
    throw new MalformedInputError(
      'ERR_PCS_RESPONSE',
      `the PCS/PCCS answered the request for the ${what} with a document that ${mismatch}`,
      {
        details: { what },
        hint: 'it was not cached; check the PCS/PCCS URL (a proxy may have answered from the wrong entry), or give --collateral FILE',
      },
    )
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

/**
 * A cached CRL is used for {@link REFRESH_AFTER_MS} (Intel may publish a revocation before the
 * CRL's nextUpdate), and never once its nextUpdate has passed: a stale CRL fails every quote, so a
 * copy fetched minutes before it went stale would otherwise fail them until its 12 hours were up,
 * however current PCS is.
 */
function crlFresh(what: string): NonNullable<DownloadRequest['fresh']> {
  return (cached, ageMs, now) => {
    if (ageMs >= REFRESH_AFTER_MS) return false
    try {
      return parseX509Crl(cached.body, what).nextUpdate.getTime() > now.getTime()
    } catch {
      return false
    }
  }
}

/**
 * A CRL issued before the cached one (an earlier thisUpdate: Intel's CRL numbers stay 1) is
 * older: it may lack a revocation the cached one lists.
 */
function olderCrl(what: string): NonNullable<DownloadRequest['older']> {
  return (downloaded, cached) => {
    try {
      return (
        parseX509Crl(downloaded.body, what).thisUpdate < parseX509Crl(cached.body, what).thisUpdate
      )
    } catch {
      return false
    }
  }
}

/**
 * A TCB info or QE identity of a lower tcbEvaluationDataNumber than the cached one (or of the same
 * number, issued earlier) is older: it may rate as up to date a TCB that a recovery since made
 * out of date.
 */
function olderDocument(field: string): NonNullable<DownloadRequest['older']> {
  const issue = (entry: Downloaded): [number, number] => {
    const body = JSON.parse(new TextDecoder().decode(entry.body)) as Record<
      string,
      { tcbEvaluationDataNumber?: unknown; issueDate?: unknown } | undefined
    >
    const document = body[field]
    return [Number(document?.tcbEvaluationDataNumber), Date.parse(String(document?.issueDate))]
  }
  return (downloaded, cached) => {
    try {
      const [number, issued] = issue(downloaded)
      const [cachedNumber, cachedIssued] = issue(cached)
      return number < cachedNumber || (number === cachedNumber && issued < cachedIssued)
    } catch {
      return false
    }
  }
}

/**
 * Fresh for {@link REFRESH_AFTER_MS}, and only while the document's own `nextUpdate` is later than
 * the downloader's clock (its `clock` option, not this host's: a caller that verifies as of another
 * time refreshes by that time too). Intel issues TCB info and QE identities for 30 days but may
 * publish a new TCB evaluation (a TCB recovery) on any day of them: a copy kept to its nextUpdate
 * would rate a TCB that is now out of date as it was for up to a month. Whether the copy is
 * current is decided later, by the verifier.
 */
function untilNextUpdate(field: string): NonNullable<DownloadRequest['fresh']> {
  return (cached, ageMs, now) => {
    if (ageMs >= REFRESH_AFTER_MS) return false
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

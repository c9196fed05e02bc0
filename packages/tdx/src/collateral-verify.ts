/**
 * Verify DCAP collateral as a named pipeline, each step with its own code:
 *
 * 1. **root** — the trust anchor (Intel's production root unless the caller passes one);
 * 2. **signing chains** — TCB info and QE identity issuer chains: `Intel SGX TCB Signing` signed by
 *    the root, the root in the chain (if any) byte-identical to the anchor
 *    (`ERR_TDX_COLLATERAL_CHAIN`, `ERR_TDX_COLLATERAL_ROOT_UNTRUSTED`);
 * 3. **document signatures** — ECDSA P-256/SHA-256 (r‖s) over the exact bytes of the TCB info and
 *    QE identity text, checked before the text is parsed (`ERR_TDX_COLLATERAL_SIGNATURE`);
 * 4. **documents** — parsed strictly (`ERR_TDX_TCB_INFO_INVALID`, `ERR_TDX_QE_IDENTITY_INVALID`);
 * 5. **CRLs** — the Root CA CRL signed by the root; the PCK CRL signed by the PCK Platform or
 *    Processor CA of its issuer chain (`ERR_TDX_CRL_SIGNATURE`, `ERR_TDX_CRL_ISSUER`);
 * 6. **revocation** — neither the TCB Signing certificate nor the PCK CA is on the Root CA CRL
 *    (`ERR_TDX_COLLATERAL_REVOKED`);
 * 7. **consistency** — TCB info and QE identity are for the same TEE (`TDX` with `TD_QE`, `SGX`
 *    with `QE`) (`ERR_TDX_COLLATERAL_MISMATCH`);
 * 8. **freshness** — at `now`, every certificate is within its validity and every document and CRL
 *    within `issueDate`/`thisUpdate` … `nextUpdate` (`ERR_TDX_COLLATERAL_CERT_EXPIRED`,
 *    `ERR_TDX_COLLATERAL_CERT_NOT_YET_VALID`, `ERR_TDX_COLLATERAL_EXPIRED`,
 *    `ERR_TDX_COLLATERAL_NOT_YET_VALID`).
 *
 * A {@link CollateralCache} keyed by the SHA-256 of the collateral content (and the anchor) makes a
 * warm verification skip every signature check: a verified result is reused for any `now` inside
 * the window in which all of step 8's conditions hold.
 *
 * @module
 */
import type { X509Certificate } from 'node:crypto'
import {
  LruCache,
  UsageError,
  stringToUtf8,
  utf8ToString,
  checkValidityWindow,
  commonValidity,
  type ValidityWindow,
} from '@initguard/core'
import {
  PLATFORM_CA_CN,
  PROCESSOR_CA_CN,
  TCB_SIGNING_CN,
  checkNotRevoked,
  fail,
  trustedRoot,
  verifyDocumentSignature,
  verifyIssuerChain,
} from './collateral-chain.ts'
import type { CollateralCertificate } from './collateral-certs.ts'
import { collateralDigest, type DcapCollateral } from './collateral.ts'
import { parseX509Crl, verifyCrlSignature, type X509Crl } from './crl.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'
import { parseQeIdentity, type QeIdentity } from './qe-identity.ts'
import { parseTcbInfo, type TcbInfo } from './tcb-info.ts'

/** Options for {@link verifyCollateral}. */
export interface VerifyCollateralOptions {
  /** The time at which the collateral must be valid. */
  readonly now: Date
  /**
   * The trust anchor; default Intel's production SGX Root CA. A test PKI is trusted only when its
   * root is passed here.
   */
  readonly root?: string | X509Certificate
  /** Verified collateral kept across calls; without it nothing is cached. */
  readonly cache?: CollateralCache
}

/** Collateral whose chains, signatures, CRLs and freshness have been checked. */
export interface VerifiedCollateral {
  /** SHA-256 of the collateral content (see `collateralDigest`). */
  readonly digest: string
  /** The TCB info, parsed from the signed text; levels in Intel's evaluation order. */
  readonly tcbInfo: TcbInfo
  /** The QE identity, parsed from the signed text. */
  readonly qeIdentity: QeIdentity
  /** The Root CA CRL: revoked PCK CA and TCB Signing serials. */
  readonly rootCaCrl: X509Crl
  /** The PCK CRL: revoked PCK certificate serials of `pckCa`. */
  readonly pckCrl: X509Crl
  /** The PCK CRL issuer (compare with the PCK certificate's issuer). */
  readonly pckCa: CollateralCertificate
  /** Whether the PCK CRL is the Platform CA's or the Processor CA's. */
  readonly pckCaKind: 'platform' | 'processor'
  /** The certificate that signed the TCB info. */
  readonly tcbInfoSigner: CollateralCertificate
  /** The certificate that signed the QE identity. */
  readonly qeIdentitySigner: CollateralCertificate
  /** The trust anchor everything chains to. */
  readonly root: CollateralCertificate
  /** Start of the window in which every part is valid. */
  readonly validFrom: Date
  /** End of the window in which every part is valid. */
  readonly validUntil: Date
}

/**
 * Verified collateral kept across verifications, keyed by the SHA-256 of its content and the trust
 * anchor; bounded, least recently used out first. A hit inside the stored window skips all
 * signature checks.
 */
export class CollateralCache {
  readonly #entries: LruCache<string, VerifiedCollateral>
  #hits = 0
  #misses = 0

  /** @param limit - The most entries kept (default 256). */
  constructor(limit = 256) {
    this.#entries = new LruCache(Math.max(1, limit))
  }

  /** Verifications answered from the cache. */
  get hits(): number {
    return this.#hits
  }

  /** Verifications that had to check signatures. */
  get misses(): number {
    return this.#misses
  }

  /** Entries held. */
  get size(): number {
    return this.#entries.size
  }

  /** A result stored under `key` whose window contains `now`. */
  lookup(key: string, now: Date): VerifiedCollateral | undefined {
    const found = this.#entries.get(key, now)
    if (found !== undefined) {
      this.#hits += 1
      return found
    }
    this.#misses += 1
    return undefined
  }

  /** Remember a verified result, for the window in which every part of it is valid. */
  store(key: string, verified: VerifiedCollateral): void {
    this.#entries.set(key, verified, verified)
  }
}

interface Window extends ValidityWindow {
  readonly what: string
  readonly certificate: boolean
}

function checkWindow(window: Window, now: Date): void {
  const prefix = window.certificate ? 'ERR_TDX_COLLATERAL_CERT' : 'ERR_TDX_COLLATERAL'
  checkValidityWindow(window, now, window.what, {
    notYetValid: `${prefix}_NOT_YET_VALID`,
    expired: `${prefix}_EXPIRED`,
    hint:
      now < window.notBefore
        ? 'check the clock, or verify as of a time inside the window (--at TIME)'
        : 'fetch current collateral (from Intel PCS or --pccs URL, or a newer --collateral FILE); to check old evidence, verify as of a time inside the window (--at TIME)',
  })
}

function collateralWindows(
  parts: Omit<VerifiedCollateral, 'digest' | 'validFrom' | 'validUntil'>,
): Window[] {
  const certificate = (what: string, c: CollateralCertificate): Window => ({
    what: `${what} certificate (${c.commonName})`,
    notBefore: c.notBefore,
    notAfter: c.notAfter,
    certificate: true,
  })
  const crl = (what: string, c: X509Crl): Window => ({
    what,
    notBefore: c.thisUpdate,
    notAfter: c.nextUpdate,
    certificate: false,
  })
  return [
    certificate('root', parts.root),
    certificate('TCB info signing', parts.tcbInfoSigner),
    certificate('QE identity signing', parts.qeIdentitySigner),
    certificate('PCK CRL issuer', parts.pckCa),
    {
      what: 'TCB info',
      notBefore: parts.tcbInfo.issueDate,
      notAfter: parts.tcbInfo.nextUpdate,
      certificate: false,
    },
    {
      what: 'QE identity',
      notBefore: parts.qeIdentity.issueDate,
      notAfter: parts.qeIdentity.nextUpdate,
      certificate: false,
    },
    crl('Root CA CRL', parts.rootCaCrl),
    crl('PCK CRL', parts.pckCrl),
  ]
}

const EXPECTED_QE: Readonly<Record<TcbInfo['id'], QeIdentity['id']>> = { TDX: 'TD_QE', SGX: 'QE' }

/**
 * Verify collateral at time `now`: chains to the trust anchor, the signatures of the TCB info, the
 * QE identity and both CRLs, revocation of the signers, and freshness of every part (see the module
 * documentation for the steps and their codes).
 *
 * @example
 * ```ts
 * const cache = new CollateralCache()
 * const verified = verifyCollateral(parseCollateralJson(json), { now: new Date(), cache })
 * verified.tcbInfo.tcbLevels // input to evaluateTcbStatus
 * ```
 *
 * @throws {@link VerificationError} with the codes above; {@link MalformedInputError} for
 *   collateral that does not parse (`ERR_TDX_TCB_INFO_INVALID`, `ERR_TDX_QE_IDENTITY_INVALID`,
 *   `ERR_TDX_CRL_INVALID`, `ERR_TDX_CERT_*`, `ERR_DER_*`) or a trusted root that is not a
 *   self-signed certificate (`ERR_TDX_ROOT_INVALID`); {@link UsageError} `ERR_TDX_NOW_INVALID`
 *   when `now` is not a valid Date.
 */
export function verifyCollateral(
  collateral: DcapCollateral,
  options: VerifyCollateralOptions,
): VerifiedCollateral {
  // An Invalid Date compares false with everything, which would pass every freshness check.
  if (!((options.now as unknown) instanceof Date) || Number.isNaN(options.now.getTime())) {
    throw new UsageError('ERR_TDX_NOW_INVALID', 'options.now must be a valid Date', {
      hint: 'pass the time at which the collateral must be valid, e.g. new Date()',
    })
  }
  const root = trustedRoot(options.root ?? INTEL_SGX_ROOT_CA_PEM)
  const digest = collateralDigest(collateral)
  const key = `${root.fingerprint}:${digest}`
  const cached = options.cache?.lookup(key, options.now)
  if (cached !== undefined) return cached

  const tcbInfoSigner = verifyIssuerChain(
    collateral.tcbInfoIssuerChain,
    'TCB info issuer chain',
    [TCB_SIGNING_CN],
    root,
  )
  const qeIdentitySigner =
    collateral.qeIdentityIssuerChain === collateral.tcbInfoIssuerChain
      ? tcbInfoSigner
      : verifyIssuerChain(
          collateral.qeIdentityIssuerChain,
          'QE identity issuer chain',
          [TCB_SIGNING_CN],
          root,
        )
  // The signature covers bytes; the parser then reads exactly those bytes back.
  const tcbInfoBytes = stringToUtf8(collateral.tcbInfo)
  const qeIdentityBytes = stringToUtf8(collateral.qeIdentity)
  verifyDocumentSignature(tcbInfoBytes, collateral.tcbInfoSignature, tcbInfoSigner, 'TCB info')
  verifyDocumentSignature(
    qeIdentityBytes,
    collateral.qeIdentitySignature,
    qeIdentitySigner,
    'QE identity',
  )
  const tcbInfo = parseTcbInfo(utf8ToString(tcbInfoBytes, { field: 'TCB info' }))
  const qeIdentity = parseQeIdentity(utf8ToString(qeIdentityBytes, { field: 'QE identity' }))

  const rootCaCrl = parseX509Crl(collateral.rootCaCrl, 'Root CA CRL')
  verifyCrlSignature(rootCaCrl, root, 'Root CA CRL')
  const pckCa = verifyIssuerChain(
    collateral.pckCrlIssuerChain,
    'PCK CRL issuer chain',
    [PLATFORM_CA_CN, PROCESSOR_CA_CN],
    root,
  )
  const pckCrl = parseX509Crl(collateral.pckCrl, 'PCK CRL')
  verifyCrlSignature(pckCrl, pckCa, 'PCK CRL')

  checkNotRevoked(rootCaCrl, tcbInfoSigner, 'TCB info signing')
  checkNotRevoked(rootCaCrl, qeIdentitySigner, 'QE identity signing')
  checkNotRevoked(rootCaCrl, pckCa, 'PCK CRL issuer')

  if (EXPECTED_QE[tcbInfo.id] !== qeIdentity.id) {
    throw fail(
      'ERR_TDX_COLLATERAL_MISMATCH',
      `the TCB info is for ${tcbInfo.id} but the QE identity is ${qeIdentity.id}; ${tcbInfo.id} needs the ${EXPECTED_QE[tcbInfo.id]} identity`,
      'fetch the TCB info and the QE identity from the same (sgx or tdx) PCS API',
    )
  }

  const parts = {
    tcbInfo,
    qeIdentity,
    rootCaCrl,
    pckCrl,
    pckCa,
    pckCaKind: pckCa.commonName === PLATFORM_CA_CN ? ('platform' as const) : ('processor' as const),
    tcbInfoSigner,
    qeIdentitySigner,
    root,
  }
  const windows = collateralWindows(parts)
  for (const window of windows) checkWindow(window, options.now)
  const verified: VerifiedCollateral = {
    digest,
    ...parts,
    ...commonValidity(windows),
  }
  options.cache?.store(key, verified)
  return verified
}

/**
 * Verify a TDX or SGX DCAP quote end to end, as a named pipeline:
 *
 * 1. **PCK chain** — from the quote (certification data type 5, or type 6 with 5 nested) or the
 *    caller, up to the pinned Intel SGX Root CA ({@link verifyPckChain});
 * 2. **QE report** — signed by the PCK key; its REPORTDATA binds SHA-256(attestation key ‖ QE
 *    authentication data) (and is zero after that);
 * 3. **quote** — signed by the attestation key over header and body exactly as received;
 * 4. **collateral** — TCB info, QE identity and both CRLs verified to the same root and current
 *    ({@link verifyCollateral}); the PCK and its CA not revoked;
 * 5. **TCB status** — Intel's algorithm over PCK SVNs, TEE_TCB_SVN, TDX module and QE identity;
 * 6. **appraisal** — accepted statuses, init-data binding, measurements, debug ({@link appraiseQuote}).
 *
 * A warm verification (PCK chain, collateral and attestation key cached by content hash) costs two
 * ECDSA P-256 checks plus parsing.
 *
 * @module
 */
import { hash, verify } from 'node:crypto'
import {
  AppraisalError,
  UnavailableError,
  UsageError,
  bytesToHex,
  concatBytes,
  constantTimeEqual,
  hexToBytes,
  subjectLine,
  type TrustAnchorInfo,
} from '@initguard/core'
import type { CollateralCertificate } from './collateral-certs.ts'
import { fail, trustedRoot } from './collateral-chain.ts'
import type { DcapCollateral } from './collateral.ts'
import type { VerifiedCollateral } from './collateral-verify.ts'
import { crlSignedBy, isSerialRevoked } from './crl.ts'
import { INTEL_PRODUCTION_ANCHOR, INTEL_SGX_ROOT_CA_SHA256 } from './intel-roots.ts'
import type { VerifiedPckChain } from './pck-chain.ts'
import {
  appraiseQuoteWithCheckedPolicy,
  checkQuoteAppraisalPolicy,
  type QuoteAppraisalPolicy,
} from './quote-appraisal.ts'
import { quoteClaims, type QuoteClaims } from './quote-claims.ts'
import { INTEL_QE_VENDOR_ID } from './quote-header.ts'
import type { DcapQuote } from './quote.ts'
import { QuoteVerifierCache } from './quote-verifier-cache.ts'
import { evaluateTcbStatus, type TcbEvaluation } from './tcb-status.ts'

/** Options for {@link verifyDcapQuote}. */
export interface QuoteVerifyOptions {
  /** The time at which certificates and collateral must be valid. */
  readonly now: Date
  /** TCB info, QE identity and CRLs for the quote's platform. */
  readonly collateral: DcapCollateral
  /** The trust anchor; default Intel's production SGX Root CA. */
  readonly root?: string
  /**
   * The PCK chain (DER, leaf first) for a quote that does not carry it (certification data types
   * 1–4 and 7). Refused for a quote that carries its own chain (type 5), which would otherwise be
   * used in its place without a word.
   */
  readonly pckCertificates?: readonly Uint8Array[]
  /** Expectations; default: only UpToDate, no debug. */
  readonly policy?: QuoteAppraisalPolicy
  /** Caches kept across calls. */
  readonly cache?: QuoteVerifierCache
}

export { QuoteVerifierCache }

const INTEL_QE_VENDOR_ID_BYTES = hexToBytes(INTEL_QE_VENDOR_ID)

/** A successful verification. */
export interface QuoteVerification {
  readonly tee: 'tdx' | 'sgx'
  readonly tcb: TcbEvaluation
  readonly claims: QuoteClaims
  /** The root the PCK chain and collateral end at: Intel's pinned root or the caller's. */
  readonly anchor: TrustAnchorInfo
  readonly warnings: readonly string[]
}

// Per root certificate: reading the subject back from OpenSSL on every quote costs microseconds.
const ANCHORS = new WeakMap<CollateralCertificate, TrustAnchorInfo>()

/** The trust anchor `root` is, as a verification reports it. */
function anchorOf(root: CollateralCertificate): TrustAnchorInfo {
  let anchor = ANCHORS.get(root)
  if (anchor === undefined) {
    anchor = Object.freeze({
      origin: root.fingerprint === INTEL_SGX_ROOT_CA_SHA256 ? 'pinned' : 'user-supplied',
      subject: subjectLine(root.x509.subject),
      sha256: root.fingerprint,
    })
    ANCHORS.set(root, anchor)
  }
  return anchor
}

/** The quote's PCK chain, verified to `root`: the one it carries, or the one the caller gave. */
function verifiedPckChain(
  quote: DcapQuote,
  options: QuoteVerifyOptions,
  cache: QuoteVerifierCache,
  root: CollateralCertificate,
): VerifiedPckChain {
  const certification = quote.signatureData.pckCertification
  if (certification.kind === 'pck-cert-chain') {
    // Fail closed: a chain the caller gives is never set aside silently for the quote's own.
    if (options.pckCertificates !== undefined)
      throw new UsageError(
        'ERR_TDX_PCK_OPTION',
        'options.pckCertificates was given, but the quote carries its own PCK certificate chain (certification data type 5), which is the one verified',
        { hint: 'leave out pckCertificates for quotes that embed their chain' },
      )
    return cache.embeddedPckChain(certification, root, options.now)
  }
  if (options.pckCertificates !== undefined)
    return cache.pckChain(options.pckCertificates, root, options.now)
  throw new UnavailableError(
    'ERR_TDX_PCK_MISSING',
    `the quote identifies its PCK (certification data type ${certification.type}) but does not carry the certificate`,
    { hint: 'give the PCK certificate chain (from your PCCS) with the quote' },
  )
}

/** Intel's TCB evaluation for the quote's PCK, TD report (TDX) and QE report. */
function evaluateQuoteTcb(
  quote: DcapQuote,
  collateral: VerifiedCollateral,
  pck: VerifiedPckChain,
): TcbEvaluation {
  const body = quote.body
  const qeReport = quote.signatureData.qeReport
  return evaluateTcbStatus(collateral, {
    pck: { ...pck.info.sgx.tcb, fmspc: pck.info.sgx.fmspc, pceId: pck.info.sgx.pceId },
    ...(body.kind === 'sgx'
      ? {}
      : {
          td: {
            teeTcbSvn: body.teeTcbSvn,
            mrSignerSeam: body.mrSignerSeam,
            seamAttributes: quote.rawBody.subarray(0x70, 0x78),
          },
        }),
    qe: {
      isvSvn: qeReport.isvSvn,
      mrSigner: qeReport.mrSigner,
      isvProdId: qeReport.isvProdId,
      miscSelect: qeReport.miscSelect,
      attributes: qeReport.raw.subarray(0x30, 0x40),
    },
  })
}

/**
 * The PCK and its CA must not be revoked. The collateral's PCK CRL is the quote's PCK CA's when it
 * is matched as RFC 5280 §6.3.3 matches a CRL to a certificate: its issuer name is the CA's
 * subject, byte for byte, and its signature verifies with the CA's public key. The certificates
 * themselves are not compared: a CA certificate Intel reissues (same key and name, another serial
 * or validity) still issues the same CRL, and may sit in the quote's chain while the collateral's
 * issuer chain carries the other one.
 */
function checkRevocation(collateral: VerifiedCollateral, pck: VerifiedPckChain): void {
  const crl = collateral.pckCrl
  if (!constantTimeEqual(crl.issuer, pck.ca.subject)) {
    throw fail(
      'ERR_TDX_PCK_CRL_ISSUER',
      `the collateral's PCK CRL is issued by the ${crl.issuerCommonName || '(no CN)'}, but the PCK certificate comes from the ${pck.ca.commonName || '(no CN)'}: it cannot revoke this PCK`,
      `fetch the collateral (the PCK CRL) with ca=${pck.caKind}`,
    )
  }
  // The same certificate: verifyCollateral has checked the CRL's signature with this very key.
  if (collateral.pckCa.fingerprint !== pck.ca.fingerprint && !crlSignedBy(crl, pck.ca)) {
    throw fail(
      'ERR_TDX_PCK_CRL_SIGNATURE',
      `the collateral's PCK CRL names the ${pck.ca.commonName || 'PCK CA'}, but its signature does not verify with the key of the quote's ${pck.ca.commonName || 'PCK CA'} certificate: it was issued by another CA of that name`,
      'fetch the PCK CRL and its issuer chain again from Intel PCS or your PCCS',
    )
  }
  if (isSerialRevoked(collateral.pckCrl, pck.pck.serialNumber)) {
    throw fail(
      'ERR_TDX_PCK_REVOKED',
      `the PCK certificate (serial ${pck.pck.serialNumber}) is revoked by Intel's PCK CRL`,
    )
  }
  if (isSerialRevoked(collateral.rootCaCrl, pck.ca.serialNumber)) {
    throw fail(
      'ERR_TDX_PCK_CA_REVOKED',
      `the ${pck.ca.commonName} (serial ${pck.ca.serialNumber}) is revoked by the Root CA CRL`,
    )
  }
}

/**
 * Verify a quote with its collateral, then appraise it.
 *
 * @throws {@link UsageError} `ERR_TDX_POLICY_INVALID` (exit 2) when the policy is invalid or sets
 *   fields this kind of quote does not have; `ERR_TDX_PCK_OPTION` (exit 2) when `pckCertificates`
 *   is given for a quote that carries its own chain; {@link VerificationError} (exit 4) when the quote or
 *   collateral is not genuine;
 *   {@link UnavailableError} (exit 6) when the PCK is needed and missing;
 *   {@link ExpectationError} (exit 5) when it is genuine but fails the policy.
 */
export function verifyDcapQuote(quote: DcapQuote, options: QuoteVerifyOptions): QuoteVerification {
  // A policy that cannot be applied to this quote is refused before any work.
  // Only an absent policy means "no rules": null is refused, not read as {} (as `??` would).
  let policy: QuoteAppraisalPolicy = {}
  if (options.policy !== undefined) policy = options.policy
  checkQuoteAppraisalPolicy(policy, quote.body.kind)
  const cache = options.cache ?? new QuoteVerifierCache()
  const root = trustedRoot(options.root ?? INTEL_PRODUCTION_ANCHOR.root)
  const warnings: string[] = []
  if (!constantTimeEqual(quote.header.qeVendorId, INTEL_QE_VENDOR_ID_BYTES)) {
    throw fail(
      'ERR_TDX_QE_VENDOR',
      `the quote's QE vendor ID is ${bytesToHex(quote.header.qeVendorId)}, not Intel's`,
    )
  }

  const pck = verifiedPckChain(quote, options, cache, root)

  const signature = quote.signatureData
  const qeReport = signature.qeReport
  if (
    !verify(
      'sha256',
      qeReport.raw,
      { key: pck.pck.publicKey, dsaEncoding: 'ieee-p1363' },
      signature.qeReportSignature,
    )
  ) {
    throw fail('ERR_TDX_QE_REPORT_SIGNATURE', 'the QE report is not signed by the PCK key')
  }
  // One-shot hash: for 96 bytes, a Hash object costs more than the hashing.
  const binding = hash(
    'sha256',
    concatBytes([signature.attestationKey, signature.qeAuthData]),
    'buffer',
  )
  if (
    !constantTimeEqual(binding, qeReport.reportData.subarray(0, 32)) ||
    qeReport.reportData.subarray(32).some((b) => b !== 0)
  ) {
    throw fail(
      'ERR_TDX_QE_REPORT_DATA',
      'the QE report does not bind the attestation key: its REPORTDATA is not SHA-256(attestation key ‖ QE auth data) followed by zeros',
    )
  }
  if (
    !verify(
      'sha256',
      quote.signedBytes,
      { key: cache.attestationKey(signature.attestationKey), dsaEncoding: 'ieee-p1363' },
      signature.quoteSignature,
    )
  ) {
    throw fail(
      'ERR_TDX_QUOTE_SIGNATURE',
      'the quote signature does not verify with its attestation key: the quote was altered',
    )
  }

  const collateral = cache.verifiedCollateral(options.collateral, root, options.now)
  const expectedId = quote.body.kind === 'sgx' ? 'SGX' : 'TDX'
  if (collateral.tcbInfo.id !== expectedId) {
    throw fail(
      'ERR_TDX_COLLATERAL_MISMATCH',
      `the TCB info is for ${collateral.tcbInfo.id}, but the quote is ${expectedId}`,
      `fetch the ${expectedId} collateral`,
    )
  }
  cache.checkPair(collateral, pck, () => {
    checkRevocation(collateral, pck)
  })

  const body = quote.body
  const tcb = cache.tcbEvaluation(collateral, pck, quote, () =>
    evaluateQuoteTcb(quote, collateral, pck),
  )
  const claims = quoteClaims(quote, tcb, pck)
  try {
    // The policy passed checkQuoteAppraisalPolicy for this kind of quote before any work.
    appraiseQuoteWithCheckedPolicy(body, tcb, policy)
  } catch (error) {
    // The quote is genuine: a refusal carries what it claims, so the caller can show it.
    throw error instanceof AppraisalError ? error.withClaims(claims) : error
  }
  if (quote.trailingBytes > 0)
    warnings.push(`${quote.trailingBytes} bytes follow the quote; they were not read`)
  return {
    tee: body.kind === 'sgx' ? 'sgx' : 'tdx',
    tcb,
    claims,
    anchor: anchorOf(root),
    warnings,
  }
}

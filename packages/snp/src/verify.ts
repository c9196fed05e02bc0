/**
 * Verify SEV-SNP evidence end to end, as a named pipeline:
 *
 * 1. **signer** — KEY_INFO names the VCEK or VLEK (an unsigned report is refused);
 * 2. **certificates** — the endorsement key, and any ASK/ASVK/ARK, from the evidence or the caller;
 * 3. **product** — from the report's CPUID fields (v3+) or the VCEK's productName (v2);
 * 4. **chain** — up to the pinned ARK, valid at `now` ({@link verifyAmdChain});
 * 5. **endorsement** — the certificate's TCB and hwID are the report's ({@link checkEndorsement});
 * 6. **signature** — ECDSA P-384 over the signed bytes ({@link verifySnpReportSignature});
 * 7. **appraisal** — the relying party's expectations ({@link appraiseSnpReport}).
 *
 * Verified chains are cached (keyed by the certificates' fingerprints, valid only inside the chain's
 * validity window), so a warm verification costs one ECDSA P-384 verify plus parsing.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import {
  AppraisalError,
  LruCache,
  UnavailableError,
  VerificationError,
  isInitguardError,
  type TrustAnchorInfo,
} from '@initguard/core'
import { parseAmdCertificate, type AmdCertificate } from './amd-certificate.ts'
import {
  verifyAmdChain,
  type EndorsementKind,
  type SnpTrustAnchors,
  type VerifiedChain,
} from './amd-chain.ts'
import { AMD_PRODUCTION_ROOTS } from './amd-roots.ts'
import { checkAmdCrl, revocationSubjectOf, type AmdRevocationSubject } from './amd-crl.ts'
import {
  appraiseSnpReportWithCheckedPolicy,
  checkSnpAppraisalPolicy,
  checkSnpAppraisalPolicyForProduct,
  type SnpAppraisalPolicy,
} from './appraisal.ts'
import type { CertTableEntry } from './cert-table.ts'
import { snpClaims, type SnpClaims } from './claims.ts'
import { checkEndorsement } from './endorsement-checks.ts'
import type { SnpReport } from './report.ts'
import { verifySnpReportSignature } from './report-signature.ts'
import { productFromCpuid, productFromName, type SnpProduct } from './tcb.ts'

/** Evidence: a report and the certificates that came with it (extended report, Trustee JSON). */
export interface SnpEvidence {
  readonly report: SnpReport
  readonly certificates: readonly CertTableEntry[]
}

/** Options for {@link verifySnpEvidence}. */
export interface SnpVerifyOptions {
  /** The time at which certificates must be valid. */
  readonly now: Date
  /** Trust anchors; default AMD's production roots. A test PKI is trusted only when passed here. */
  readonly anchors?: SnpTrustAnchors
  /** Further certificates (DER or PEM), e.g. a VCEK from KDS or `--certs`. */
  readonly certificates?: readonly (Uint8Array | string)[]
  /** AMD's CRL for the product (DER); when given, it must be genuine and current, and the chain not on it. */
  readonly crl?: Uint8Array
  /** Expectations; default: refuse debug and migration agents, nothing else. */
  readonly policy?: SnpAppraisalPolicy
  /** A cache kept across calls. */
  readonly cache?: SnpVerifierCache
}

/** The outcome of a successful verification. */
export interface SnpVerification {
  readonly product: SnpProduct
  readonly signingKey: EndorsementKind
  readonly claims: SnpClaims
  readonly chain: {
    readonly root: string
    readonly intermediate: string
    readonly endorsement: string
    readonly validUntil: string
    /** The ARK the chain ends at: AMD's pinned one, or one the caller supplied. */
    readonly anchor: TrustAnchorInfo
    /**
     * What the chain is checked against the product's CRL by (`checkAmdRevocation`), for a relying
     * party that keeps the verified CRL itself instead of passing `crl`.
     */
    readonly revocation: AmdRevocationSubject
  }
  readonly warnings: readonly string[]
}

/** The production trust anchors. */
export const AMD_PRODUCTION_ANCHORS: SnpTrustAnchors = { roots: AMD_PRODUCTION_ROOTS }

/**
 * Parsed certificates and verified chains, kept across verifications. Bounded; least recently used
 * out first.
 */
export class SnpVerifierCache {
  readonly #certificates: LruCache<string, AmdCertificate>
  readonly #pemCertificates: LruCache<string, AmdCertificate>
  readonly #chains: LruCache<string, VerifiedChain>

  constructor(limit = 1024) {
    this.#certificates = new LruCache(limit)
    this.#pemCertificates = new LruCache(limit)
    this.#chains = new LruCache(limit)
  }

  /** A parsed certificate, from the cache when the same bytes were parsed before. */
  certificate(input: Uint8Array | string, what: string): AmdCertificate {
    // PEM text is its own key: a string's hash is computed once and kept by the engine, so a
    // relying party that passes the same VCEK text every time pays no hashing; bytes are hashed.
    if (typeof input === 'string') {
      return this.#pemCertificates.getOrSet(input, () => parseAmdCertificate(input, what))
    }
    const key = createHash('sha256').update(input).digest('hex')
    return this.#certificates.getOrSet(key, () => parseAmdCertificate(input, what))
  }

  /** A chain verified earlier for the same certificates and anchors, if `now` is inside its window. */
  chain(key: string, now: Date): VerifiedChain | undefined {
    return this.#chains.get(key, now)
  }

  /** Remember a verified chain, for the window in which all its certificates are valid. */
  rememberChain(key: string, chain: VerifiedChain): void {
    this.#chains.set(key, chain, chain)
  }
}

const anchorIds = new WeakMap<SnpTrustAnchors, string>()

function anchorId(anchors: SnpTrustAnchors): string {
  let id = anchorIds.get(anchors)
  if (id === undefined) {
    id = createHash('sha256')
      .update(JSON.stringify(Object.values(anchors.roots).map((r) => [r.ark, r.ask, r.asvk])))
      .digest('hex')
    anchorIds.set(anchors, id)
  }
  return id
}

function kindOfName(commonName: string): 'vcek' | 'vlek' | 'ask' | 'ark' {
  if (commonName === 'SEV-VCEK') return 'vcek'
  if (commonName === 'SEV-VLEK') return 'vlek'
  if (commonName.startsWith('ARK-')) return 'ark'
  return 'ask'
}

interface CollectedCertificates {
  readonly vcek: AmdCertificate[]
  readonly vlek: AmdCertificate[]
  readonly intermediate: AmdCertificate[]
  readonly root: AmdCertificate[]
}

function collect(
  evidence: SnpEvidence,
  options: Pick<SnpVerifyOptions, 'certificates'>,
  cache: SnpVerifierCache,
): CollectedCertificates {
  const found: CollectedCertificates = { vcek: [], vlek: [], intermediate: [], root: [] }
  for (const entry of evidence.certificates) {
    if (entry.kind === 'crl' || entry.kind === 'other') continue
    const certificate = cache.certificate(
      entry.data,
      `${entry.kind.toUpperCase()} certificate from the evidence`,
    )
    // The evidence says what each certificate is; a certificate in another's slot is refused
    // rather than quietly re-sorted, since the host assembled the table.
    if (kindOfName(certificate.commonName) !== entry.kind) {
      throw new VerificationError(
        'ERR_SNP_CHAIN_ORDER',
        `the evidence's ${entry.kind.toUpperCase()} entry holds ${certificate.commonName || 'a certificate without a common name'}`,
        {
          hint: 'the certificate table is mis-assembled: each certificate must sit in its own entry',
        },
      )
    }
    sortInto(found, certificate)
  }
  let n = 0
  for (const input of options.certificates ?? []) {
    n += 1
    sortInto(found, cache.certificate(input, `certificate #${n}`))
  }
  return found
}

/**
 * Put `certificate` with the others of its kind. A module function, not a closure made on every
 * verification.
 */
function sortInto(found: CollectedCertificates, certificate: AmdCertificate): void {
  const kind = kindOfName(certificate.commonName)
  found[kind === 'ark' ? 'root' : kind === 'ask' ? 'intermediate' : kind].push(certificate)
}

function productOf(report: SnpReport, endorsement: AmdCertificate): SnpProduct {
  if (report.cpuidFamilyId !== undefined && report.cpuidModelId !== undefined) {
    const product = productFromCpuid(report.cpuidFamilyId, report.cpuidModelId)
    if (product === 'unknown') {
      throw new VerificationError(
        'ERR_SNP_PRODUCT_UNKNOWN',
        `the report's CPUID (family 0x${report.cpuidFamilyId.toString(16)}, model 0x${report.cpuidModelId.toString(16)}) is not a product line we verify (Milan, Genoa, Turin)`,
      )
    }
    return product
  }
  const named =
    endorsement.amd.productName === undefined
      ? 'unknown'
      : productFromName(endorsement.amd.productName)
  if (named === 'unknown') {
    throw new VerificationError(
      'ERR_SNP_PRODUCT_UNKNOWN',
      `a version ${report.version} report has no CPUID fields, and the ${endorsement.commonName} names no known product (${endorsement.amd.productName ?? 'none'})`,
    )
  }
  return named
}

/**
 * Of the certificates given for one place in the chain (the evidence's first, then the caller's),
 * the first with the common name the chain needs there; when none has it, the first, whose fault
 * {@link verifyAmdChain} then names. Taking the first of all would refuse genuine evidence
 * whenever the caller passes the chains of several product lines, or both the ASK and the ASVK.
 */
function pickNamed(
  certificates: readonly AmdCertificate[],
  commonName: string,
): AmdCertificate | undefined {
  return certificates.find((c) => c.commonName === commonName) ?? certificates[0]
}

/**
 * Of several VCEKs (or VLEKs), the first that belongs to the report: its product, TCB and hwID
 * are the report's and its key verifies the report's signature. When none does, the first, whose
 * fault the checks that follow name. Which one is picked weakens nothing: the one picked goes
 * through every check. With one candidate nothing is tried.
 */
function pickEndorsement(
  report: SnpReport,
  candidates: readonly AmdCertificate[],
): AmdCertificate | undefined {
  if (candidates.length <= 1) return candidates[0]
  const fits = (certificate: AmdCertificate): boolean => {
    try {
      checkEndorsement(report, productOf(report, certificate), certificate)
      verifySnpReportSignature(report, certificate.publicKey)
      return true
    } catch (error) {
      if (isInitguardError(error)) return false
      throw error
    }
  }
  return candidates.find(fits) ?? candidates[0]
}

/**
 * Whether {@link verifySnpEvidence}, given `evidence` and `options.certificates`, would find the
 * endorsement key missing and a caller could fetch it: `'vcek'` when the report is signed by the
 * VCEK and neither the evidence nor the certificates hold a VCEK or a VLEK (with only a VLEK, the
 * verifier refuses the report as signed by the other key); otherwise `undefined`: the key is
 * given, or the report is signed by the VLEK (which AMD KDS does not serve) or by no key. It sorts
 * the certificates as the verifier does (and refuses what the verifier would), so a caller that
 * asks before fetching anything (the CLI refusing `--kds-url` where nothing is fetched) cannot
 * disagree with it. Pass the same `cache` to both to parse each certificate once.
 */
export function snpEndorsementToFetch(
  evidence: SnpEvidence,
  options: Pick<SnpVerifyOptions, 'certificates' | 'cache'> = {},
): 'vcek' | undefined {
  if (evidence.report.signerInfo.signingKey !== 'vcek') return undefined
  const found = collect(evidence, options, options.cache ?? new SnpVerifierCache())
  return found.vcek.length === 0 && found.vlek.length === 0 ? 'vcek' : undefined
}

/**
 * Verify a report and its certificates, then appraise it.
 *
 * @throws {@link UsageError} `ERR_SNP_POLICY_INVALID` (exit 2) when the policy itself is invalid;
 *   {@link VerificationError} (exit 4) when the evidence is not genuine;
 *   {@link UnavailableError} `ERR_SNP_ENDORSEMENT_MISSING` (exit 6) when no VCEK/VLEK was given;
 *   {@link ExpectationError} (exit 5) when it is genuine but fails the policy.
 */
export function verifySnpEvidence(
  evidence: SnpEvidence,
  options: SnpVerifyOptions,
): SnpVerification {
  // A policy that cannot be applied is refused before any work, whatever the evidence. Only an
  // absent policy means "no rules": null is refused, not read as {} (as `??` would).
  let policy: SnpAppraisalPolicy = {}
  if (options.policy !== undefined) policy = options.policy
  checkSnpAppraisalPolicy(policy)
  const cache = options.cache ?? new SnpVerifierCache()
  const { report } = evidence
  const signingKey = report.signerInfo.signingKey
  if (signingKey !== 'vcek' && signingKey !== 'vlek') {
    throw new VerificationError(
      'ERR_SNP_UNSIGNED',
      `the report's KEY_INFO says it is signed by ${signingKey === 'none' ? 'no key' : `an unknown key (${report.signerInfo.signingKeyCode})`}`,
    )
  }
  const found = collect(evidence, options, cache)
  const endorsement = pickEndorsement(report, found[signingKey])
  if (endorsement === undefined) {
    const other = signingKey === 'vcek' ? found.vlek[0] : found.vcek[0]
    if (other !== undefined) {
      throw new VerificationError(
        'ERR_SNP_KEY_INFO_MISMATCH',
        `the report says it was signed by the ${signingKey.toUpperCase()}, but only a ${other.commonName} certificate was given`,
      )
    }
    throw new UnavailableError(
      'ERR_SNP_ENDORSEMENT_MISSING',
      `no ${signingKey.toUpperCase()} certificate came with the evidence`,
      {
        hint:
          signingKey === 'vcek'
            ? 'give it with --certs, or let Initguard fetch it from AMD KDS (without --offline)'
            : 'a VLEK cannot be fetched: give it with --certs',
      },
    )
  }
  const product = productOf(report, endorsement)
  const anchors = options.anchors ?? AMD_PRODUCTION_ANCHORS
  const intermediate = pickNamed(
    found.intermediate,
    signingKey === 'vcek' ? `SEV-${product}` : `SEV-VLEK-${product}`,
  )
  const root = pickNamed(found.root, `ARK-${product}`)
  const chainKey = [
    anchorId(anchors),
    product,
    signingKey,
    endorsement.fingerprint,
    intermediate?.fingerprint ?? '-',
    root?.fingerprint ?? '-',
  ].join(':')
  let chain = cache.chain(chainKey, options.now)
  if (chain === undefined) {
    chain = verifyAmdChain(
      product,
      signingKey,
      { endorsement, intermediate, root },
      anchors,
      options.now,
    )
    cache.rememberChain(chainKey, chain)
  }
  if (options.crl !== undefined) checkAmdCrl(options.crl, chain, options.now)
  const warnings = checkEndorsement(report, product, endorsement)
  verifySnpReportSignature(report, endorsement.publicKey)
  const claims = snpClaims(report, product, signingKey)
  try {
    // The policy passed checkSnpAppraisalPolicy above; only what the product adds is left.
    checkSnpAppraisalPolicyForProduct(policy, product)
    appraiseSnpReportWithCheckedPolicy(report, product, policy)
  } catch (error) {
    // The report is genuine: a refusal carries what it claims, so the caller can show it.
    throw error instanceof AppraisalError ? error.withClaims(claims) : error
  }
  if (report.reservedNonZero.length > 0) {
    warnings.push(`reserved fields are not zero: ${report.reservedNonZero.join(', ')}`)
  }
  // Policy bits this verifier does not know are not appraised: a newer firmware's option may relax
  // what the guest is protected from, so the caller must at least be told.
  if (report.policy.unknownBits.length > 0) {
    warnings.push(
      `POLICY sets bits this verifier does not know (${report.policy.unknownBits.join(', ')}); what they allow is not appraised`,
    )
  }
  if (!report.policy.reservedBit17) {
    warnings.push('POLICY bit 17 (reserved, must be one) is clear')
  }
  return {
    product,
    signingKey,
    claims,
    chain: {
      root: chain.root.fingerprint,
      intermediate: chain.intermediate.fingerprint,
      endorsement: chain.endorsement.fingerprint,
      validUntil: chain.validUntil.toISOString(),
      anchor: {
        origin:
          chain.root.fingerprint === AMD_PRODUCTION_ROOTS[product].fingerprints.ark
            ? 'pinned'
            : 'user-supplied',
        subject: chain.root.subjectLine,
        sha256: chain.root.fingerprint,
      },
      revocation: revocationSubjectOf(chain),
    },
    warnings,
  }
}

/**
 * The AMD certificate chain: ARK (pinned) → ASK or ASVK → VCEK or VLEK.
 *
 * Rules, in order (each failure has its own code):
 * 1. The product line has pinned roots (`ERR_SNP_PRODUCT_UNTRUSTED`).
 * 2. An ARK that came with the evidence is byte-identical to the pinned ARK
 *    (`ERR_SNP_CHAIN_ROOT_UNTRUSTED`).
 * 3. The intermediate is the product's ASK (VCEK) or ASVK (VLEK) by name
 *    (`ERR_SNP_CHAIN_ORDER` for an ARK in its place, `ERR_SNP_CHAIN_PRODUCT_MISMATCH` for another
 *    product's), signed by the ARK with RSASSA-PSS (`ERR_SNP_CHAIN_SIGNATURE`).
 * 4. The endorsement key is `SEV-VCEK`/`SEV-VLEK` as the report's KEY_INFO says, an ECDSA P-384
 *    key, signed by the intermediate with RSASSA-PSS.
 * 5. Each certificate may play its part (`ERR_SNP_CERT_ROLE`, naming the certificate and what is
 *    wrong), as Go's `CheckSignatureFrom` (go-sev-guest) and RFC 5280 §6.1.4 require of an issuer:
 *    the ARK and the ASK/ASVK carry basicConstraints with cA true, a pathLenConstraint that allows
 *    the CAs below them (the ASK under the ARK), and a keyUsage, when present, with keyCertSign;
 *    the VCEK/VLEK signs reports, so it must not be a CA and a keyUsage, when present, must allow
 *    digitalSignature. Absent keyUsage, and absent basicConstraints on the VCEK/VLEK (as on every
 *    real one), are accepted. (The ARK's cRLSign is checked where it signs the CRL, amd-crl.ts.)
 * 6. Every certificate is valid at `now` (`ERR_SNP_CERT_EXPIRED`, `ERR_SNP_CERT_NOT_YET_VALID`).
 *
 * @module
 */
import { LruCache, VerificationError, checkValidityWindow, commonValidity } from '@initguard/core'
import type { AmdRootSet } from './amd-roots.ts'
import { parseAmdCertificate, type AmdCertificate } from './amd-certificate.ts'
import type { SnpProduct } from './tcb.ts'

const RSASSA_PSS = '1.2.840.113549.1.1.10'

/** Which endorsement key signed the report. */
export type EndorsementKind = 'vcek' | 'vlek'

/** Trust anchors: the pinned certificates per product line. */
export interface SnpTrustAnchors {
  readonly roots: Readonly<Partial<Record<SnpProduct, AmdRootSet>>>
}

/** Certificates to build the chain from; missing intermediates and roots come from the anchors. */
export interface ChainCertificates {
  readonly endorsement: AmdCertificate
  readonly intermediate?: AmdCertificate | undefined
  readonly root?: AmdCertificate | undefined
}

/** A verified chain. */
export interface VerifiedChain {
  readonly product: SnpProduct
  readonly kind: EndorsementKind
  readonly root: AmdCertificate
  readonly intermediate: AmdCertificate
  readonly endorsement: AmdCertificate
  /** The window in which every certificate of the chain is valid. */
  readonly validFrom: Date
  readonly validUntil: Date
}

/**
 * Parsed pinned certificates, by PEM text: parsing is the expensive part and roots never change.
 * The bound covers AMD's roots with room for the anchors a caller passes.
 */
const pinnedCache = new LruCache<string, AmdCertificate>(64)

function pinned(pem: string, what: string): AmdCertificate {
  return pinnedCache.getOrSet(pem, () => parseAmdCertificate(pem, what))
}

function fail(code: `ERR_SNP_${string}`, message: string, hint?: string): VerificationError {
  return new VerificationError(code, message, hint === undefined ? {} : { hint })
}

function productOfName(commonName: string): string | undefined {
  return /^(?:ARK|SEV|SEV-VLEK)-(.+)$/.exec(commonName)?.[1]
}

/** OpenSSL throws, rather than answering false, on some malformed signatures: both mean no. */
function signatureVerifies(child: AmdCertificate, parent: AmdCertificate): boolean {
  try {
    return child.x509.verify(parent.publicKey)
  } catch {
    return false
  }
}

function checkSignatureAlgorithm(certificate: AmdCertificate, name: string): void {
  if (certificate.signatureAlgorithm !== RSASSA_PSS) {
    throw fail(
      'ERR_SNP_CHAIN_SIGNATURE',
      `the ${name} is not signed with RSASSA-PSS as AMD signs (${certificate.signatureAlgorithm})`,
    )
  }
}

function checkSignedBy(
  child: AmdCertificate,
  parent: AmdCertificate,
  childName: string,
  parentName: string,
): void {
  checkSignatureAlgorithm(child, childName)
  if (child.x509.issuer !== parent.x509.subject || !signatureVerifies(child, parent)) {
    throw fail(
      'ERR_SNP_CHAIN_SIGNATURE',
      `the ${childName} (${child.commonName}) is not signed by the ${parentName} (${parent.commonName})`,
      "the certificates do not form a chain; give the VCEK/VLEK with its own product's ASK/ASVK",
    )
  }
}

function roleError(
  role: string,
  certificate: AmdCertificate,
  problem: string,
  hint = 'use the certificates AMD KDS issues (cert_chain and the VCEK/VLEK of the chip)',
): VerificationError {
  return new VerificationError(
    'ERR_SNP_CERT_ROLE',
    `the ${role} ${certificate.commonName || '(no CN)'} ${problem}`,
    { details: { certificate: role, commonName: certificate.commonName }, hint },
  )
}

/**
 * An ARK or ASK/ASVK signs certificates: it must be a CA (basicConstraints present with cA true,
 * RFC 5280 §6.1.4 (k); Go refuses a v3 parent without it), allow `casBelow` CA certificates under
 * it (pathLenConstraint, §6.1.4 (l)–(m)), and, with a keyUsage, be allowed keyCertSign (§6.1.4 (n)).
 */
function checkIssuerRole(certificate: AmdCertificate, role: string, casBelow: number): void {
  const constraints = certificate.basicConstraints
  if (constraints?.ca !== true) {
    throw roleError(
      role,
      certificate,
      constraints === undefined
        ? 'has no basicConstraints, so it is not a CA and may not sign certificates'
        : 'is not a CA (basicConstraints cA is false), so it may not sign certificates',
    )
  }
  if (constraints.pathLength !== undefined && constraints.pathLength < casBelow) {
    throw roleError(
      role,
      certificate,
      `allows ${constraints.pathLength} CA certificate(s) below it (pathLenConstraint), but the chain has ${casBelow}`,
    )
  }
  if (certificate.keyUsage !== undefined && !certificate.keyUsage.keyCertSign) {
    throw roleError(
      role,
      certificate,
      'has a keyUsage without keyCertSign, so it may not sign certificates',
    )
  }
}

/**
 * The VCEK/VLEK signs reports: it must not be a CA (a CA key would be one AMD means to sign
 * certificates with), and a keyUsage, when present, must allow digitalSignature.
 */
function checkEndorsementRole(certificate: AmdCertificate, role: string): void {
  if (certificate.basicConstraints?.ca === true) {
    throw roleError(
      role,
      certificate,
      'is a CA (basicConstraints cA is true); the key that signs reports must not be one',
    )
  }
  if (certificate.keyUsage !== undefined && !certificate.keyUsage.digitalSignature) {
    throw roleError(
      role,
      certificate,
      'has a keyUsage without digitalSignature, so it may not sign reports',
    )
  }
}

/**
 * The ARK signs the CRL: with a keyUsage, it must be allowed cRLSign (RFC 5280 §6.3.3 (f)).
 *
 * @throws {@link VerificationError} `ERR_SNP_CERT_ROLE`.
 */
export function checkCrlSignerRole(ark: AmdCertificate): void {
  if (ark.keyUsage !== undefined && !ark.keyUsage.cRLSign) {
    throw roleError(
      'ARK',
      ark,
      'has a keyUsage without cRLSign, so it may not sign the CRL',
      'trust the ARK AMD publishes (its keyUsage is keyCertSign and cRLSign)',
    )
  }
}

function describeCertificate(name: string, certificate: AmdCertificate): string {
  return name === certificate.commonName ? name : `${name} (${certificate.commonName})`
}

function checkValidity(certificate: AmdCertificate, name: string, now: Date): void {
  checkValidityWindow(certificate, now, describeCertificate(name, certificate), {
    notYetValid: 'ERR_SNP_CERT_NOT_YET_VALID',
    expired: 'ERR_SNP_CERT_EXPIRED',
    hint:
      now > certificate.notAfter
        ? 'fetch a current certificate; to check old evidence as of a past time, verify as of that time (--at in the CLI)'
        : 'check the clock, or the time given with --at',
  })
}

/**
 * The trusted ARK of `product` among `anchors`, parsed (kept parsed across calls): what a product's
 * CRL must be signed by.
 *
 * @throws {@link VerificationError} `ERR_SNP_PRODUCT_UNTRUSTED` when the anchors have no roots for
 *   the product.
 */
export function trustedArk(anchors: SnpTrustAnchors, product: SnpProduct): AmdCertificate {
  return pinned(rootsOf(anchors, product).ark, `ARK-${product}`)
}

function rootsOf(anchors: SnpTrustAnchors, product: SnpProduct): AmdRootSet {
  const roots = anchors.roots[product]
  if (roots === undefined) {
    throw fail(
      'ERR_SNP_PRODUCT_UNTRUSTED',
      `no trusted AMD roots for ${product}`,
      'trust the roots for this product line',
    )
  }
  return roots
}

/**
 * Verify the chain of a report's endorsement key up to the pinned ARK, at time `now`.
 *
 * @throws {@link VerificationError} with the codes listed in the module documentation.
 */
export function verifyAmdChain(
  product: SnpProduct,
  kind: EndorsementKind,
  certificates: ChainCertificates,
  anchors: SnpTrustAnchors,
  now: Date,
): VerifiedChain {
  const roots = rootsOf(anchors, product)
  const root = pinned(roots.ark, `ARK-${product}`)
  if (certificates.root !== undefined && certificates.root.fingerprint !== root.fingerprint) {
    throw fail(
      'ERR_SNP_CHAIN_ROOT_UNTRUSTED',
      `the ARK that came with the evidence (${certificates.root.commonName}, SHA-256 ${certificates.root.fingerprint.slice(0, 16)}…) is not the pinned ARK-${product}`,
      "only the pinned AMD root (or a test PKI's roots passed explicitly with --trust-root) is trusted; a chain to any other root is refused",
    )
  }
  const expectedIntermediate = kind === 'vcek' ? `SEV-${product}` : `SEV-VLEK-${product}`
  const intermediate =
    certificates.intermediate ??
    pinned(kind === 'vcek' ? roots.ask : roots.asvk, expectedIntermediate)
  if (intermediate.commonName !== expectedIntermediate) {
    const named = productOfName(intermediate.commonName)
    if (intermediate.commonName.startsWith('ARK-')) {
      throw fail(
        'ERR_SNP_CHAIN_ORDER',
        `an ARK (${intermediate.commonName}) stands where the ${expectedIntermediate} belongs`,
        'give the ASK/ASVK first, then the ARK',
      )
    }
    if (named !== undefined && named !== product && !named.startsWith('VLEK-')) {
      throw fail(
        'ERR_SNP_CHAIN_PRODUCT_MISMATCH',
        `the intermediate certificate is for ${named}, but the report is from a ${product}`,
        `give the ${product} certificate chain`,
      )
    }
    throw fail(
      'ERR_SNP_CHAIN_INTERMEDIATE',
      `the intermediate certificate is ${intermediate.commonName || '(no CN)'}, expected ${expectedIntermediate}`,
    )
  }
  const endorsement = certificates.endorsement
  const expectedLeaf = kind === 'vcek' ? 'SEV-VCEK' : 'SEV-VLEK'
  if (endorsement.commonName !== expectedLeaf) {
    throw fail(
      endorsement.commonName === 'SEV-VCEK' || endorsement.commonName === 'SEV-VLEK'
        ? 'ERR_SNP_KEY_INFO_MISMATCH'
        : 'ERR_SNP_CHAIN_ENDORSEMENT',
      `the report says it was signed by the ${kind.toUpperCase()}, but the certificate given is ${endorsement.commonName || '(no CN)'}`,
    )
  }
  const curve = endorsement.publicKey.asymmetricKeyDetails?.namedCurve
  if (endorsement.publicKey.asymmetricKeyType !== 'ec' || curve !== 'secp384r1') {
    throw fail(
      'ERR_SNP_CHAIN_ENDORSEMENT',
      `the ${expectedLeaf} key is not ECDSA P-384 (${endorsement.publicKey.asymmetricKeyType ?? '?'} ${curve ?? ''})`,
    )
  }
  checkSignedBy(root, root, `ARK-${product}`, `ARK-${product}`)
  checkSignedBy(intermediate, root, expectedIntermediate, `ARK-${product}`)
  checkSignedBy(endorsement, intermediate, expectedLeaf, expectedIntermediate)
  checkIssuerRole(root, 'ARK', 1)
  checkIssuerRole(intermediate, kind === 'vcek' ? 'ASK' : 'ASVK', 0)
  checkEndorsementRole(endorsement, kind === 'vcek' ? 'VCEK' : 'VLEK')
  checkValidity(root, 'ARK', now)
  checkValidity(intermediate, expectedIntermediate, now)
  checkValidity(endorsement, expectedLeaf, now)
  return {
    product,
    kind,
    root,
    intermediate,
    endorsement,
    ...commonValidity([root, intermediate, endorsement]),
  }
}

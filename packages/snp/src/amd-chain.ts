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
 * 5. Every certificate is valid at `now` (`ERR_SNP_CERT_EXPIRED`, `ERR_SNP_CERT_NOT_YET_VALID`).
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
      'only the pinned AMD root is trusted; a chain to any other root is refused',
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

/**
 * The certificate chains of Intel collateral: the trust anchor, and the two-certificate issuer
 * chains (signer, then root) of the TCB info, the QE identity and the PCK CRL.
 *
 * The root is pinned by DER bytes: a root certificate in a chain is accepted only when it is
 * byte-identical to the trust anchor, and the signer must be signed by the anchor's key with
 * ECDSA P-256/SHA-256 and name the anchor as its issuer (byte-identical Names).
 *
 * @module
 */
import { X509Certificate, verify } from 'node:crypto'
import {
  LruCache,
  MalformedInputError,
  VerificationError,
  constantTimeEqual,
  isEcKey,
} from '@initguard/core'
import {
  ECDSA_WITH_SHA256,
  parseCollateralCertificate,
  parseCollateralCertificates,
  type CollateralCertificate,
} from './collateral-certs.ts'
import { isSerialRevoked, type X509Crl } from './crl.ts'

/** CN of the certificate that signs TCB info and QE identities. */
export const TCB_SIGNING_CN = 'Intel SGX TCB Signing'
/** CN of the PCK Platform CA, one of the two CAs that issue PCK certificates. */
export const PLATFORM_CA_CN = 'Intel SGX PCK Platform CA'
/** CN of the PCK Processor CA, the other CA that issues PCK certificates. */
export const PROCESSOR_CA_CN = 'Intel SGX PCK Processor CA'

/** A verification error with an optional hint. */
export function fail(code: `ERR_TDX_${string}`, message: string, hint?: string): VerificationError {
  return new VerificationError(code, message, hint === undefined ? {} : { hint })
}

/** Parsed anchors: parsing (and the self-signature check) is done once per root. */
const anchors = new LruCache<string, CollateralCertificate>(16)

/** The trust anchor, parsed and checked to be self-signed; cached per root. */
export function trustedRoot(root: string | X509Certificate): CollateralCertificate {
  const key = root instanceof X509Certificate ? root.fingerprint256 : root
  return anchors.getOrSet(key, () => parseTrustedRoot(root))
}

function parseTrustedRoot(root: string | X509Certificate): CollateralCertificate {
  const parsed = parseCollateralCertificate(
    root instanceof X509Certificate ? new Uint8Array(root.raw) : root,
    'trusted root',
  )
  if (!signedBy(parsed, parsed)) {
    throw new MalformedInputError(
      'ERR_TDX_ROOT_INVALID',
      `the trusted root (${parsed.commonName || 'no CN'}) is not a self-signed certificate`,
      { hint: 'pass the root CA certificate, not an intermediate' },
    )
  }
  return parsed
}

/** OpenSSL throws, rather than answering false, on some malformed signatures: both mean no. */
export function signedBy(child: CollateralCertificate, parent: CollateralCertificate): boolean {
  try {
    return constantTimeEqual(child.issuer, parent.subject) && child.x509.verify(parent.publicKey)
  } catch {
    return false
  }
}

function isP256(certificate: CollateralCertificate): boolean {
  return isEcKey(certificate.publicKey, 'prime256v1')
}

/**
 * Verify a two-certificate issuer chain (signer, then the root; the root may be left out) and
 * return the signer.
 */
export function verifyIssuerChain(
  pem: string,
  what: string,
  signerNames: readonly string[],
  root: CollateralCertificate,
): CollateralCertificate {
  const certificates = parseCollateralCertificates(pem, what)
  const [signer, last] = certificates
  if (signer === undefined || certificates.length > 2) {
    throw fail(
      'ERR_TDX_COLLATERAL_CHAIN',
      `the ${what} has ${certificates.length} certificates; expected the signer and then the root`,
    )
  }
  if (last !== undefined && !constantTimeEqual(last.der, root.der)) {
    throw fail(
      'ERR_TDX_COLLATERAL_ROOT_UNTRUSTED',
      `the ${what} ends in ${last.commonName || 'a certificate without a CN'} (SHA-256 ${last.fingerprint.slice(0, 16)}…), which is not the trusted root`,
      'only the pinned Intel SGX Root CA (or a root passed explicitly) is trusted; a chain to any other root is refused',
    )
  }
  if (constantTimeEqual(signer.der, root.der) || !signerNames.includes(signer.commonName)) {
    throw fail(
      'ERR_TDX_COLLATERAL_CHAIN',
      `the ${what} starts with ${signer.commonName || 'a certificate without a CN'}, expected ${signerNames.join(' or ')}`,
      'the issuer chain lists the signer first, then the root',
    )
  }
  if (signer.signatureAlgorithm !== ECDSA_WITH_SHA256 || !isP256(signer)) {
    throw fail(
      'ERR_TDX_COLLATERAL_CHAIN',
      `the ${signer.commonName} certificate is not an ECDSA P-256 key signed with ECDSA/SHA-256`,
    )
  }
  if (!signedBy(signer, root)) {
    throw fail(
      'ERR_TDX_COLLATERAL_CHAIN',
      `the ${signer.commonName} certificate of the ${what} is not signed by the trusted root`,
      'the chain does not lead to the trusted root; fetch the collateral again from Intel PCS',
    )
  }
  return signer
}

/** Refuse a signer that the Root CA CRL revokes. */
export function checkNotRevoked(
  crl: X509Crl,
  certificate: CollateralCertificate,
  role: string,
): void {
  if (isSerialRevoked(crl, certificate.serialNumber)) {
    throw fail(
      'ERR_TDX_COLLATERAL_REVOKED',
      `the ${role} certificate (${certificate.commonName}, serial ${certificate.serialNumber}) is revoked by the Root CA CRL`,
      'Intel revoked this signer: fetch current collateral from Intel PCS',
    )
  }
}

/**
 * Check the ECDSA P-256/SHA-256 signature (r‖s, 64 bytes) of a collateral document (TCB info, QE
 * identity) over its exact bytes.
 *
 * @throws {@link VerificationError} `ERR_TDX_COLLATERAL_SIGNATURE`.
 */
export function verifyDocumentSignature(
  bytes: Uint8Array,
  signature: Uint8Array,
  signer: CollateralCertificate,
  what: string,
): void {
  let valid = false
  if (signature.length === 64) {
    try {
      valid = verify(
        'sha256',
        bytes,
        { key: signer.publicKey, dsaEncoding: 'ieee-p1363' },
        signature,
      )
    } catch {
      valid = false
    }
  }
  if (!valid) {
    throw fail(
      'ERR_TDX_COLLATERAL_SIGNATURE',
      `the ${what} signature (${signature.length} bytes) does not verify with the ${signer.commonName} key`,
      'the text must be exactly what Intel signed: cut out of the PCS body, never re-serialised or pretty-printed',
    )
  }
}

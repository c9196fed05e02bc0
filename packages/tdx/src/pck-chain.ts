/**
 * The PCK certificate chain a quote carries: PCK certificate → Intel SGX PCK Platform or Processor
 * CA → Intel SGX Root CA (pinned: compared byte for byte), every certificate ECDSA P-256 signed with
 * ECDSA/SHA-256 and valid at `now`.
 *
 * @module
 */
import {
  VerificationError,
  subjectLine,
  constantTimeEqual,
  checkValidityWindow,
  commonValidity,
  isEcKey,
} from '@initguard/core'
import {
  ECDSA_WITH_SHA256,
  parseCollateralCertificate,
  type CollateralCertificate,
} from './collateral-certs.ts'
import { fail, signedBy } from './collateral-chain.ts'
import { INTEL_SGX_ROOT_CA_SHA256 } from './intel-roots.ts'
import {
  PCK_PLATFORM_CA_CN,
  PCK_PROCESSOR_CA_CN,
  parsePckCertificate,
  type PckCertificateInfo,
} from './pck-extensions.ts'

/** The common name of every PCK leaf certificate. */
export const PCK_CERTIFICATE_CN = 'Intel SGX PCK Certificate'

/** A verified PCK chain. */
export interface VerifiedPckChain {
  readonly pck: CollateralCertificate
  readonly ca: CollateralCertificate
  readonly caKind: 'platform' | 'processor'
  readonly root: CollateralCertificate
  /** The PCK certificate's SGX extension: FMSPC, PCE-ID, TCB, PPID. */
  readonly info: PckCertificateInfo
  readonly validFrom: Date
  readonly validUntil: Date
}

/** The trusted root as a message names it: Intel's pinned root, or the one the caller supplied. */
function trustedRootText(root: CollateralCertificate): string {
  return root.fingerprint === INTEL_SGX_ROOT_CA_SHA256
    ? `Intel's SGX Root CA (SHA-256 ${INTEL_SGX_ROOT_CA_SHA256}), the pinned root`
    : `the user-supplied trusted root ${subjectLine(root.x509.subject)} (SHA-256 ${root.fingerprint})`
}

function checkShape(certificate: CollateralCertificate, role: string): void {
  if (
    certificate.signatureAlgorithm !== ECDSA_WITH_SHA256 ||
    !isEcKey(certificate.publicKey, 'prime256v1')
  ) {
    throw fail(
      'ERR_TDX_PCK_CHAIN',
      `the ${role} is not an ECDSA P-256 key signed with ECDSA/SHA-256`,
    )
  }
}

function checkValidity(certificate: CollateralCertificate, role: string, now: Date): void {
  checkValidityWindow(certificate, now, `${role} (${certificate.commonName})`, {
    notYetValid: 'ERR_TDX_CERT_NOT_YET_VALID',
    expired: 'ERR_TDX_CERT_EXPIRED',
  })
}

/**
 * Verify a PCK chain (DER, leaf first; the root may be left out) up to `root` at `now`.
 *
 * @throws {@link VerificationError} `ERR_TDX_PCK_CHAIN`, `ERR_TDX_PCK_ROOT_UNTRUSTED`,
 *   `ERR_TDX_CERT_EXPIRED`, `ERR_TDX_CERT_NOT_YET_VALID`; the parsers' MalformedInputErrors.
 */
export function verifyPckChain(
  certificates: readonly Uint8Array[],
  root: CollateralCertificate,
  now: Date,
): VerifiedPckChain {
  const parsed = certificates.map((der, i) =>
    parseCollateralCertificate(der, `PCK chain certificate #${i + 1}`),
  )
  const [pck, ca, last] = parsed
  if (pck === undefined || ca === undefined || parsed.length > 3) {
    throw fail(
      'ERR_TDX_PCK_CHAIN',
      `the PCK chain has ${parsed.length} certificates; expected the PCK certificate, its CA and the root`,
    )
  }
  if (last !== undefined && !constantTimeEqual(last.der, root.der)) {
    throw new VerificationError(
      'ERR_TDX_PCK_ROOT_UNTRUSTED',
      `the PCK chain ends at ${subjectLine(last.x509.subject) || 'a certificate without a subject'}, SHA-256 ${last.fingerprint}, which is not ${trustedRootText(root)}`,
      {
        details: { chainRoot: last.fingerprint, trustedRoot: root.fingerprint },
        hint: 'only the pinned Intel SGX Root CA (or a root passed explicitly with --intel-root) is trusted; a chain to any other root is refused',
      },
    )
  }
  if (pck.commonName !== PCK_CERTIFICATE_CN) {
    throw fail(
      'ERR_TDX_PCK_CHAIN',
      `the first certificate is ${pck.commonName || '(no CN)'}, expected ${PCK_CERTIFICATE_CN}`,
    )
  }
  const caKind =
    ca.commonName === PCK_PLATFORM_CA_CN
      ? 'platform'
      : ca.commonName === PCK_PROCESSOR_CA_CN
        ? 'processor'
        : undefined
  if (caKind === undefined) {
    throw fail(
      'ERR_TDX_PCK_CHAIN',
      `the PCK certificate's CA is ${ca.commonName || '(no CN)'}, expected ${PCK_PLATFORM_CA_CN} or ${PCK_PROCESSOR_CA_CN}`,
    )
  }
  checkShape(pck, 'PCK certificate')
  checkShape(ca, ca.commonName)
  if (!signedBy(ca, root)) {
    // The chain leaves its root out: all that can be said is that the CA does not verify with
    // the trusted root, whatever root (perhaps of the same name) signed it.
    throw new VerificationError(
      'ERR_TDX_PCK_ROOT_UNTRUSTED',
      `the PCK chain does not end at ${trustedRootText(root)}: its ${ca.commonName}, issued by ${subjectLine(ca.x509.issuer)}, is not signed by that root`,
      { details: { trustedRoot: root.fingerprint } },
    )
  }
  if (!signedBy(pck, ca))
    throw fail('ERR_TDX_PCK_CHAIN', `the PCK certificate is not signed by the ${ca.commonName}`)
  for (const [certificate, role] of [
    [root, 'root'],
    [ca, ca.commonName],
    [pck, 'PCK certificate'],
  ] as const) {
    checkValidity(certificate, role, now)
  }
  return {
    pck,
    ca,
    caKind,
    root,
    info: parsePckCertificate(pck.der),
    ...commonValidity([root, ca, pck]),
  }
}

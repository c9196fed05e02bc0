/**
 * @initguard/testkit: synthetic trust material and evidence for tests. A DER writer, an X.509
 * certificate builder, a synthetic AMD SEV-SNP PKI (ARK → ASK/ASVK → VCEK/VLEK, shaped like AMD's
 * real certificates) and an SNP attestation report builder. Pure: keys and signatures come from
 * `node:crypto`; validity times and every other input come in as arguments.
 *
 * @module
 */
export {
  derTlv,
  derInteger,
  derEnumerated,
  derBoolean,
  derNull,
  derOid,
  derOctetString,
  derBitString,
  derUtf8String,
  derPrintableString,
  derIa5String,
  derUtcTime,
  derGeneralizedTime,
  derTime,
  derSequence,
  derSet,
  derSetOf,
  derExplicit,
  derImplicit,
} from './der-writer.ts'
export type { DerWriteTag } from './der-writer.ts'
export {
  X509_NAME_OID,
  X509_EXTENSION_OID,
  X509_ALGORITHM_OID,
  KEY_USAGE_BITS,
  encodeSignatureAlgorithm,
  encodeX509Name,
  subjectPublicKeyInfoDer,
  keyIdentifierOf,
  encodeSubjectKeyIdentifier,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeKeyUsage,
  encodeCrlDistributionPoints,
  encodeTbsCertificate,
  buildX509Certificate,
  derToPem,
  signTbs,
} from './x509-builder.ts'
export type {
  X509StringType,
  X509NameAttribute,
  X509Name,
  X509Extension,
  X509SignatureAlgorithm,
  SignatureAlgorithmOptions,
  X509CertificateFields,
  BasicConstraintsOptions,
  KeyUsageBit,
} from './x509-builder.ts'
export { AMD_EXTENSION_OID, amdName, createAmdTestPki } from './amd-pki.ts'
export type {
  AmdProduct,
  SnpTcbParts,
  TestKeyPair,
  AmdTestCertificate,
  AmdTestPkiOptions,
  AmdLeafOptions,
  IssueVcekOptions,
  IssueVlekOptions,
  AmdTestPki,
} from './amd-pki.ts'
export {
  SNP_REPORT_SIZE,
  SNP_REPORT_SIGNED_LENGTH,
  encodeTcbVersion,
  defaultSnpReportFields,
  defaultSnpTcb,
  signSnpReport,
  snpReportSignatureP1363,
  buildSnpReport,
} from './snp-report-builder.ts'
export type {
  SnpKeySelect,
  SnpFirmwareVersion,
  SnpReportPatch,
  SnpReportFieldValues,
  SnpReportFields,
} from './snp-report-builder.ts'
export { buildX509Crl } from './crl-builder.ts'
export type { X509CrlFields, RevokedCertificate } from './crl-builder.ts'

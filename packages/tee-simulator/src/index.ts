/**
 * @initguard/tee-simulator: synthetic TEE worlds with real formats. A DER writer and an X.509
 * builder; an AMD-shaped SEV-SNP PKI (ARK → ASK/ASVK → VCEK/VLEK) with an attestation report
 * builder; an Intel-shaped DCAP PKI (root, PCK Platform/Processor CAs, TCB Signing, PCK
 * certificates with the SGX extension, CRLs) with collateral and TDX/SGX quote builders; and a
 * sigstore signer (cosign keys and signatures, a Rekor log, a Fulcio-shaped CA) for the demo's
 * image step. Nothing it makes is trusted anywhere unless its roots are passed explicitly.
 *
 * On top of the builders, the TEE simulator: a simulated SEV-SNP chip and TDX platform whose keys
 * live in a directory (`initSimulator`, `loadSimulator`), evidence in Trustee's shapes
 * (`simulateSnpEvidence`, `simulateTdxEvidence`), simulated guests whose HOST_DATA / MRCONFIGID
 * is fixed at launch (`launchSimulatedGuest`, `loadSimulatedGuest`, `simulateGuestEvidence`) and
 * the public trust material a relying party must be given explicitly to accept it
 * (`simulatorTrust`).
 * Keys and signatures come from `node:crypto`; validity times and every other input come in as
 * arguments.
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
  type DerWriteTag,
} from './der-writer.ts'
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
  encodeIssuingDistributionPoint,
  encodeX509Extension,
  encodeTbsCertificate,
  buildX509Certificate,
  derToPem,
  signTbs,
  type X509StringType,
  type X509NameAttribute,
  type X509Name,
  type X509Extension,
  type X509SignatureAlgorithm,
  type SignatureAlgorithmOptions,
  type X509CertificateFields,
  type BasicConstraintsOptions,
  type KeyUsageBit,
  type IssuingDistributionPointFlag,
} from './x509-builder.ts'
export { amdName, createAmdTestPki } from './amd-pki.ts'
export {
  AMD_EXTENSION_OID,
  type AmdProduct,
  type SnpTcbParts,
  type TestKeyPair,
  type AmdTestCertificate,
  type AmdTestPkiOptions,
  type AmdLeafOptions,
  type IssueVcekOptions,
  type IssueVlekOptions,
  type AmdTestPki,
} from './amd-pki-types.ts'
export {
  SNP_REPORT_SIZE,
  SNP_REPORT_SIGNED_LENGTH,
  encodeTcbVersion,
  defaultSnpReportFields,
  defaultSnpTcb,
  signSnpReport,
  snpReportSignatureP1363,
  buildSnpReport,
  type SnpKeySelect,
  type SnpFirmwareVersion,
  type SnpReportPatch,
  type SnpReportFieldValues,
  type SnpReportFields,
} from './snp-report-builder.ts'
export {
  buildX509Crl,
  encodeCrlNumber,
  encodeCrlReason,
  type X509CrlFields,
  type RevokedCertificate,
} from './crl-builder.ts'
export {
  INTEL_CRL_URL,
  INTEL_COMMON_NAME,
  INTEL_SGX_EXTENSION_OID,
  DEFAULT_PCK_TCB,
  intelName,
  intelCertificateExtensions,
  encodeSgxPckExtension,
  type SgxPlatformConfigurationFields,
  type PckTcbFields,
  type SgxPckExtensionFields,
} from './intel-cert-profile.ts'
export {
  createIntelTestPki,
  type IntelPckCa,
  type IntelTestCertificate,
  type IntelPckCertificate,
  type IntelTestPkiOptions,
  type IssuePckOptions,
  type IntelRevocation,
  type IntelCrlOptions,
  type IntelTestPki,
} from './intel-pki.ts'
export {
  DCAP_HEADER_SIZE,
  SGX_REPORT_SIZE,
  TD10_BODY_SIZE,
  TD15_BODY_SIZE,
  INTEL_QE_VENDOR_ID_BYTES,
  encodeDcapHeader,
  encodeSgxReport,
  encodeTdReportBody,
  defaultTdReportBodyFields,
  defaultSgxEnclaveFields,
  defaultQeReportFields,
  type SgxReportFieldValues,
  type TdReportBodyFieldValues,
  type DcapHeaderFields,
} from './dcap-report-encoder.ts'
export {
  buildTdxQuote,
  buildSgxQuote,
  type DcapQuoteSigner,
  type DcapQuoteCorruption,
  type DcapQuoteOptions,
  type TdxQuoteFields,
  type SgxQuoteFields,
} from './dcap-quote-builder.ts'
export {
  defaultTcbInfoFields,
  defaultTcbInfoV2Fields,
  defaultQeIdentityFields,
  encodeTcbInfoJson,
  encodeTcbInfoV2Json,
  encodeQeIdentityJson,
  type TcbComponentFields,
  type TcbLevelFields,
  type IsvSvnLevelFields,
  type TdxModuleFields,
  type TdxModuleIdentityFields,
  type TcbInfoFields,
  type TcbInfoV2Fields,
  type QeIdentityFields,
} from './dcap-collateral-json.ts'
export {
  signCollateralText,
  buildDcapCollateral,
  type DcapCollateralCorruption,
  type DcapCollateralOptions,
} from './dcap-collateral-builder.ts'
export {
  COSIGN_ANNOTATION,
  generateSigstoreKeyPair,
  publicKeyPem,
  signSigstorePayload,
  cosignPayload,
  createRekorTestLog,
  buildHashedRekordBody,
  buildRekorBundle,
  buildCosignSignature,
  encodeDirSigstoreSignature,
  type SigstoreKeyAlgorithm,
  type RekorTestLog,
  type HashedRekordFields,
  type RekorBundleOptions,
  type CosignSignatureOptions,
  type CosignTestSignature,
} from './sigstore-builder.ts'
export {
  FULCIO_TEST_OID,
  createFulcioTestPki,
  type SigstoreTestCertificate,
  type FulcioLeafOptions,
  type FulcioTestPki,
  type FulcioTestPkiOptions,
} from './sigstore-fulcio-pki.ts'
export {
  SIMULATOR_SNP_PRODUCT,
  SIMULATOR_AMD_RSA_BITS,
  createSimulatorMaterial,
  type SimulatorMaterial,
  type SimulatorMaterialOptions,
  type SimulatorSnpMaterial,
  type SimulatorRevocable,
  type SimulatorTdxMaterial,
} from './simulator-material.ts'
export {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
  SIMULATOR_INIT_DATA_FIELD_LENGTH,
  simulateSnpEvidence,
  simulateTdxEvidence,
  simulateSnpEvidenceWithField,
  simulateTdxEvidenceWithField,
  type SimulatedEvidenceRequest,
  type SimulatedFieldEvidenceRequest,
  type TrusteeTdxEvidenceJson,
} from './simulator-evidence.ts'
export {
  certificateSha256,
  simulatorTrustFrom,
  type SimulatorTrust,
  type SimulatorPublicMaterial,
} from './simulator-trust.ts'
export {
  SIMULATOR_MANIFEST_FORMAT,
  SIMULATOR_MANIFEST_VERSION,
  SIMULATOR_MANIFEST_FILE,
  SIMULATOR_FILES,
  SIMULATOR_PRIVATE_FILES,
  SIMULATOR_TRUST_FILES,
  parseSimulatorManifest,
  encodeSimulatorManifest,
  type SimulatorManifest,
  type SimulatorFileName,
} from './simulator-manifest.ts'
export { loadSimulator, simulatorTrust, type TeeSimulator } from './simulator-load.ts'
export { SIMULATOR_REPORT_DATA_MAX, errnoOf, padReportData } from './report-data.ts'
export {
  initSimulator,
  type InitSimulatorOptions,
  type InitSimulatorResult,
} from './simulator-init.ts'
export {
  SIMULATED_GUEST_FORMAT,
  SIMULATED_GUEST_VERSION,
  SIMULATED_GUESTS_DIR,
  SIMULATED_GUEST_MAX_SIZE,
  isSimulatedGuestName,
  checkGuestName,
  guestRecordFile,
  parseSimulatedGuestRecord,
  encodeSimulatedGuestRecord,
  type SimulatedGuestRecord,
  type SimulatedGuestTee,
} from './simulator-guest-record.ts'
export {
  launchSimulatedGuest,
  loadSimulatedGuest,
  simulateGuestEvidence,
  type LaunchSimulatedGuestOptions,
  type LaunchedSimulatedGuest,
  type SimulatedGuestEvidence,
} from './simulator-guest.ts'

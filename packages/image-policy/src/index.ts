/**
 * @initguard/image-policy: containers-policy.json(5), pure. Parse policies (containers/image's
 * reading, or image-rs's), normalise Docker references, select scopes, verify GPG simple signing
 * and cosign/sigstore signatures (Rekor SETs and Fulcio certificates offline), and decide whether
 * an image is allowed, with the reasons. Fetching images and signatures is the adapters' job.
 *
 * @module
 */
export {
  DOCKER_DEFAULT_DOMAIN,
  DOCKER_NAME_MAX_LENGTH,
  parseDockerReference,
  parseDockerImageReference,
  isNameOnly,
  isValidDockerDomain,
  isValidDockerName,
  dockerPolicyNamespaces,
  familiarReference,
} from './docker-reference.ts'
export type { DockerReference, DockerImageReference } from './docker-reference.ts'
export { KNOWN_TRANSPORTS, parseImagePolicy } from './policy.ts'
export type { PolicyDialect, PolicyParseOptions } from './policy.ts'
export type {
  ImagePolicy,
  PolicyRequirement,
  SignedByRequirement,
  SigstoreSignedRequirement,
  SignedByKeyType,
  SignedIdentity,
  KeySource,
  FulcioSource,
  PkiSource,
  CertificatesSource,
} from './policy.ts'
export { dockerScopeCandidates, lookupScope, lookupDockerScope } from './scope.ts'
export type { ScopeKind, ScopeCandidate, ScopeMatch } from './scope.ts'
export { DEFAULT_SIGNED_IDENTITY, matchesSignedIdentity } from './signed-identity.ts'
export {
  decideImagePolicy,
  decideLocalImagePolicy,
  decideRejectingScope,
  decideScope,
  pathScopeCandidates,
} from './policy-decision.ts'
export type {
  DecisionContext,
  ImageUnderPolicy,
  PolicyDecision,
  RequirementVerdict,
} from './policy-decision.ts'
export type { ImageSignature, SignatureVerdict } from './signature-requirements.ts'
export { decodeSignatureBlob } from './signature-blob.ts'
export { MAX_SIGNATURE_PAYLOAD_BYTES, parseSignaturePayload } from './signature-payload.ts'
export type { SignaturePayload, SignaturePayloadType } from './signature-payload.ts'
export { manifestDigest, manifestMatchesDigest } from './manifest-digest.ts'
export { cdhImageSources } from './cdh-image-policy.ts'
export { kbsResourcePath } from './kbs-resource-uri.ts'
export type { CdhImageSources, CdhResourceSource } from './cdh-image-policy.ts'
export { SIGSTORE_ANNOTATION, verifySigstoreSignature } from './sigstore-signature.ts'
export { prepareSigstoreTrust } from './sigstore-trust.ts'
export { parsePkiCertificates, verifyPkiCertificate } from './pki-certificate.ts'
export type { PkiCertificateInput, VerifiedPkiCertificate } from './pki-certificate.ts'
export type {
  SigstoreSignature,
  SigstoreTrust,
  FulcioTrust,
  PkiTrust,
  PreparedSigstoreTrust,
  SigstoreCertificateSubject,
  VerifiedSigstoreSignature,
} from './sigstore-signature.ts'
export {
  SIGSTORE_SIGNATURE_MIME_TYPE,
  parseDirSigstoreSignature,
} from './dir-sigstore-signature.ts'
export type { DirSigstoreSignature } from './dir-sigstore-signature.ts'
export { parseSigstorePublicKey } from './sigstore-public-key.ts'
export type { SigstorePublicKey } from './sigstore-public-key.ts'
export { REKOR_CLOCK_SKEW_SECONDS, verifyRekorSet } from './rekor-set.ts'
export type { RekorSetInput, VerifiedRekorSet } from './rekor-set.ts'
export { verifyFulcioCertificate } from './fulcio-certificate.ts'
export {
  FULCIO_OID,
  fulcioOidcIssuer,
  parseFulcioCaCertificates,
  parseFulcioChain,
  parseFulcioLeafCertificate,
} from './fulcio-parse.ts'
export type { FulcioCertificateInput, VerifiedFulcioCertificate } from './fulcio-certificate.ts'
export type { SigstoreCertificate, CertificateExtension } from './sigstore-x509.ts'
export { parseGpgKeyring, mergeGpgKeyrings } from './gpg-keyring.ts'
export type { GpgKeyring } from './gpg-keyring.ts'
export { verifySimpleSigning } from './simple-signing.ts'
export type { VerifiedSimpleSigning } from './simple-signing.ts'
export { MAX_SIMPLE_SIGNING_BYTES } from './simple-signing-framing.ts'
export { blockedRegistryPrefix, cdhRegistryRules } from './cdh-registry-config.ts'
export type { CdhRegistryRules } from './cdh-registry-config.ts'

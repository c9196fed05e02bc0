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
  type DockerReference,
  type DockerImageReference,
} from './docker-reference.ts'
export {
  KNOWN_TRANSPORTS,
  parseImagePolicy,
  type PolicyDialect,
  type PolicyParseOptions,
  type ImagePolicy,
  type PolicyRequirement,
  type SignedByRequirement,
  type SigstoreSignedRequirement,
  type SignedByKeyType,
  type SignedIdentity,
  type KeySource,
  type FulcioSource,
  type PkiSource,
  type CertificatesSource,
} from './policy.ts'
export {
  dockerScopeCandidates,
  lookupScope,
  lookupDockerScope,
  type ScopeKind,
  type ScopeCandidate,
  type ScopeMatch,
} from './scope.ts'
export { DEFAULT_SIGNED_IDENTITY, matchesSignedIdentity } from './signed-identity.ts'
export {
  decideImagePolicy,
  decideLocalImagePolicy,
  decideRejectingScope,
  decideScope,
  pathScopeCandidates,
  type DecisionContext,
  type ImageUnderPolicy,
  type PolicyDecision,
  type RequirementVerdict,
} from './policy-decision.ts'
export type { ImageSignature, SignatureVerdict } from './signature-requirements.ts'
export { decodeSignatureBlob } from './signature-blob.ts'
export {
  MAX_SIGNATURE_PAYLOAD_BYTES,
  parseSignaturePayload,
  type SignaturePayload,
  type SignaturePayloadType,
} from './signature-payload.ts'
export { manifestDigest, manifestMatchesDigest } from './manifest-digest.ts'
export {
  cdhImageSources,
  type CdhImageSources,
  type CdhResourceSource,
} from './cdh-image-policy.ts'
export { kbsResourcePath } from './kbs-resource-uri.ts'
export {
  SIGSTORE_ANNOTATION,
  verifySigstoreSignature,
  type SigstoreSignature,
  type SigstoreTrust,
  type FulcioTrust,
  type PkiTrust,
  type PreparedSigstoreTrust,
  type SigstoreCertificateSubject,
  type VerifiedSigstoreSignature,
} from './sigstore-signature.ts'
export { prepareSigstoreTrust } from './sigstore-trust.ts'
export {
  parsePkiCertificates,
  verifyPkiCertificate,
  type PkiCertificateInput,
  type VerifiedPkiCertificate,
} from './pki-certificate.ts'
export {
  SIGSTORE_SIGNATURE_MIME_TYPE,
  parseDirSigstoreSignature,
  type DirSigstoreSignature,
} from './dir-sigstore-signature.ts'
export { parseSigstorePublicKey, type SigstorePublicKey } from './sigstore-public-key.ts'
export { CLOCK_SKEW_SECONDS } from './clock-skew.ts'
export {
  REKOR_CLOCK_SKEW_SECONDS,
  verifyRekorSet,
  type RekorSetInput,
  type VerifiedRekorSet,
} from './rekor-set.ts'
export {
  verifyFulcioCertificate,
  type FulcioCertificateInput,
  type VerifiedFulcioCertificate,
} from './fulcio-certificate.ts'
export {
  FULCIO_OID,
  fulcioOidcIssuer,
  parseFulcioCaCertificates,
  parseFulcioChain,
  parseFulcioLeafCertificate,
} from './fulcio-parse.ts'
export type { SigstoreCertificate, CertificateExtension } from './sigstore-x509.ts'
export { parseGpgKeyring, mergeGpgKeyrings, type GpgKeyring } from './gpg-keyring.ts'
export { verifySimpleSigning, type VerifiedSimpleSigning } from './simple-signing.ts'
export { MAX_SIMPLE_SIGNING_BYTES } from './simple-signing-framing.ts'
export {
  blockedRegistryPrefix,
  cdhRegistryRules,
  type CdhRegistryRules,
} from './cdh-registry-config.ts'

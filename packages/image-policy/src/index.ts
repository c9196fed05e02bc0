/**
 * @initguard/image-policy: containers-policy.json(5), pure. Parse and normalise Docker
 * references, parse policy.json strictly, select the scope for an image exactly as
 * containers/image does, match signed identities, and decide the requirements that need no
 * signature. Signature verification lives elsewhere.
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
} from './docker-reference.ts'
export type { DockerReference, DockerImageReference } from './docker-reference.ts'
export { KNOWN_TRANSPORTS, parseImagePolicy } from './policy.ts'
export type {
  ImagePolicy,
  PolicyRequirement,
  SignedByRequirement,
  SigstoreSignedRequirement,
  SignedByKeyType,
  SignedIdentity,
  KeySource,
  FulcioSource,
} from './policy.ts'
export { dockerScopeCandidates, lookupScope, lookupDockerScope } from './scope.ts'
export type { ScopeKind, ScopeCandidate, ScopeMatch } from './scope.ts'
export { DEFAULT_SIGNED_IDENTITY, matchesSignedIdentity } from './signed-identity.ts'
export { decideRequirements, decideUnsignedRequirements } from './evaluate.ts'
export type { RequirementOutcome, RequirementDecision, UnsignedDecision } from './evaluate.ts'

/**
 * The part of policy evaluation that needs no signatures: select the scope, then decide the
 * requirements that decide on their own (`insecureAcceptAnything`, `reject`) and list the ones
 * that still need signature verification. Nothing here accepts a signature requirement.
 *
 * @module
 */
import type { DockerImageReference } from './docker-reference.ts'
import type { ImagePolicy, PolicyRequirement, SignedIdentity } from './policy.ts'
import { lookupDockerScope, type ScopeMatch } from './scope.ts'

/** What one requirement decided without signatures. */
export type RequirementOutcome = 'accept' | 'reject' | 'needsSignatureVerification'

/** One requirement of the selected list and what it decided. */
export interface RequirementDecision {
  /** Position in the selected list. */
  readonly index: number
  /** JSON path of the requirement, e.g. `transports.docker[""][0]`. */
  readonly field: string
  readonly type: PolicyRequirement['type']
  readonly outcome: RequirementOutcome
  /** One sentence on why. */
  readonly reason: string
  /** For signature requirements: the identity rule a signature will have to satisfy. */
  readonly signedIdentity?: SignedIdentity
}

/** The decision for an image before any signature is looked at. */
export interface UnsignedDecision {
  /**
   * `reject` when any requirement rejects; otherwise `needsSignatureVerification` when any
   * requirement needs a signature; otherwise `accept`. All requirements must pass (AND).
   */
  readonly outcome: RequirementOutcome
  /** Which scope was selected, and what was tried before it. */
  readonly scope: ScopeMatch
  /** Every requirement of the selected list, in order. */
  readonly requirements: readonly RequirementDecision[]
}

function decide(requirement: PolicyRequirement, index: number, field: string): RequirementDecision {
  const base = { index, field: `${field}[${index}]`, type: requirement.type }
  switch (requirement.type) {
    case 'insecureAcceptAnything':
      return { ...base, outcome: 'accept', reason: 'insecureAcceptAnything accepts any image' }
    case 'reject':
      return { ...base, outcome: 'reject', reason: 'reject refuses every image' }
    case 'signedBy':
      if (requirement.keyType !== 'GPGKeys') {
        return {
          ...base,
          outcome: 'reject',
          reason: `keyType "${requirement.keyType}" parses but containers/image does not implement it, so it rejects`,
        }
      }
      return {
        ...base,
        outcome: 'needsSignatureVerification',
        reason:
          'signedBy needs a GPG simple signing signature that verifies with the listed keys, matches the identity rule and the manifest digest',
        signedIdentity: requirement.signedIdentity,
      }
    case 'sigstoreSigned':
      return {
        ...base,
        outcome: 'needsSignatureVerification',
        reason:
          'sigstoreSigned needs a sigstore signature that verifies with the configured keys or Fulcio/Rekor, matches the identity rule and the manifest digest',
        signedIdentity: requirement.signedIdentity,
      }
  }
}

/** Decide a selected scope's requirement list as far as it can be decided without signatures. */
export function decideRequirements(scope: ScopeMatch): UnsignedDecision {
  const requirements = scope.requirements.map((r, i) => decide(r, i, scope.field))
  const outcome: RequirementOutcome = requirements.some((r) => r.outcome === 'reject')
    ? 'reject'
    : requirements.some((r) => r.outcome === 'needsSignatureVerification')
      ? 'needsSignatureVerification'
      : 'accept'
  return { outcome, scope, requirements }
}

/**
 * Select the scope for a `docker:` image and decide its requirements without signatures.
 *
 * @example
 * ```ts
 * const d = decideUnsignedRequirements(policy, parseDockerImageReference('quay.io/org/app:v1'))
 * d.outcome // 'needsSignatureVerification'
 * d.scope.scope // 'quay.io/org'
 * ```
 */
export function decideUnsignedRequirements(
  policy: ImagePolicy,
  reference: DockerImageReference,
): UnsignedDecision {
  return decideRequirements(lookupDockerScope(policy, reference))
}

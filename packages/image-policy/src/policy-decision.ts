/**
 * The whole policy decision for one image: select the scope, then decide every requirement of
 * it, verifying signatures where a requirement asks for them. All requirements must pass (AND);
 * a signature requirement passes when any one signature is accepted (containers/image
 * `signature/policy_eval.go`). The decision explains itself: which scope matched and what was
 * tried before it, what each requirement decided, and why each signature was refused.
 *
 * @module
 */
import type { ErrorCategory } from '@initguard/core'
import { familiarReference, type DockerImageReference } from './docker-reference.ts'
import type { ImagePolicy, PolicyDialect, PolicyRequirement } from './policy.ts'
import { lookupDockerScope, lookupScope, type ScopeCandidate, type ScopeMatch } from './scope.ts'
import {
  type ImageSignature,
  type SignatureCheckContext,
  type SignatureVerdict,
  checkSignedBy,
  checkSigstoreSigned,
} from './signature-requirements.ts'

export type { ImageSignature, SignatureVerdict } from './signature-requirements.ts'

/** The image a decision is about, as fetched (nothing in it is trusted yet). */
export interface ImageUnderPolicy {
  /**
   * The Docker reference the image was asked for by (tag or digest), against which signed
   * identities are matched. Undefined for images without one (`dir:`, `oci:` layouts); then only
   * `exactReference` and `exactRepository` can accept a signature.
   */
  readonly reference: DockerImageReference | undefined
  /**
   * The image manifest exactly as served: for a multi-platform image, the one chosen for the
   * platform (containers/image checks the signatures of that instance, not of the list).
   */
  readonly manifest: Uint8Array
  /**
   * The manifest list (index) the manifest was chosen from, when there was one. Only the
   * image-rs dialect lets a cosign signature name the list instead of the manifest.
   */
  readonly listManifest?: Uint8Array
  /**
   * How refusals name the image, as containers/image's `transports.ImageName` does (`dir:/path`);
   * default `docker://` and the short Docker reference.
   */
  readonly name?: string
  /** Every signature found for the image, in the order found. */
  readonly signatures: readonly ImageSignature[]
}

/** What a decision needs besides the policy and the image. */
export interface DecisionContext {
  /** The time signatures and keys are judged at. */
  readonly now: Date
  /**
   * Read a key file a requirement names (`keyPath`, `keyPaths`, `caPath`, `rekorPublicKeyPath`).
   * Throw a coded error when it cannot be read; the requirement then rejects with that reason.
   */
  readonly readKeyFile: (path: string) => Uint8Array
}

/** What one requirement of the selected list decided. */
export interface RequirementVerdict {
  /** Position in the selected list. */
  readonly index: number
  /** JSON path of the requirement, e.g. `transports.docker["quay.io/org"][0]`. */
  readonly field: string
  readonly type: PolicyRequirement['type']
  readonly accepted: boolean
  /** Why, in containers/image's words where it has them. */
  readonly reason: string
  /** Stable code of the refusal. */
  readonly code?: string
  /**
   * When the requirement could not be evaluated because the policy's own trust material is
   * broken (a key file unreadable or not a key): that error's category. The image is refused
   * either way; a caller can tell a broken policy from a refused image by this.
   */
  readonly keyError?: ErrorCategory
  /** For signature requirements: every signature looked at and what became of it. */
  readonly signatures: readonly SignatureVerdict[]
}

/** The decision on one image. */
export interface PolicyDecision {
  readonly accepted: boolean
  readonly dialect: PolicyDialect
  /** Which scope was selected, and what was tried before it. */
  readonly scope: ScopeMatch
  /** Every requirement of the selected list, in order. */
  readonly requirements: readonly RequirementVerdict[]
  /** One sentence: the first refusal's reason, or what accepted the image. */
  readonly reason: string
}

/** How refusals name an image: its `name`, else `docker://` and the short reference. */
function imageNameOf(image: Pick<ImageUnderPolicy, 'reference' | 'name'>): string {
  return (
    image.name ??
    (image.reference === undefined
      ? 'without a Docker reference'
      : `docker://${familiarReference(image.reference)}`)
  )
}

function rejectVerdict(index: number, field: string, imageName: string): RequirementVerdict {
  return {
    index,
    field: `${field}[${index}]`,
    type: 'reject',
    signatures: [],
    accepted: false,
    code: 'ERR_IMAGE_POLICY_REJECT',
    reason: `Running image ${imageName} is rejected by policy.`,
  }
}

async function decideRequirement(
  requirement: PolicyRequirement,
  index: number,
  field: string,
  context: SignatureCheckContext,
): Promise<RequirementVerdict> {
  const base = { index, field: `${field}[${index}]`, type: requirement.type, signatures: [] }
  switch (requirement.type) {
    case 'insecureAcceptAnything':
      return { ...base, accepted: true, reason: 'insecureAcceptAnything accepts any image' }
    case 'reject':
      return rejectVerdict(index, field, context.imageName)
    case 'signedBy':
      return { ...base, ...(await checkSignedBy(requirement, base.field, context)) }
    case 'sigstoreSigned':
      return { ...base, ...(await checkSigstoreSigned(requirement, base.field, context)) }
  }
}

/**
 * Decide a selected scope: every requirement is evaluated (so the decision shows all failures),
 * and the image is accepted only when all of them accept.
 */
export async function decideScope(
  scope: ScopeMatch,
  image: ImageUnderPolicy,
  dialect: PolicyDialect,
  context: DecisionContext,
): Promise<PolicyDecision> {
  const checkContext: SignatureCheckContext = {
    ...context,
    dialect,
    image,
    imageName: imageNameOf(image),
  }
  const requirements: RequirementVerdict[] = []
  for (const [index, requirement] of scope.requirements.entries()) {
    requirements.push(await decideRequirement(requirement, index, scope.field, checkContext))
  }
  const refusal = requirements.find((r) => !r.accepted)
  let reason: string
  if (refusal !== undefined) reason = refusal.reason
  else if (requirements.length === 0) {
    reason = `${scope.field} is an empty list, which image-rs reads as no requirement`
  } else {
    reason = `accepted by ${scope.field}: ${requirements.map((r) => r.reason).join('; ')}`
  }
  return { accepted: refusal === undefined, dialect, scope, requirements, reason }
}

/**
 * The decision for a scope that holds a `reject` requirement, made before anything of the image
 * is fetched: all requirements must accept (AND), so such a scope refuses every image, and
 * contacting the registry could only leak the request or fail. The `reject` requirements give the
 * reason (containers/image's words); the others are listed as not evaluated. Undefined when the
 * scope has no `reject` (containers/image evaluates in order and stops at the first refusal, so
 * for `[signedBy, reject]` it would report the signature's reason; the outcome is the same).
 */
export function decideRejectingScope(
  scope: ScopeMatch,
  image: Pick<ImageUnderPolicy, 'reference' | 'name'>,
  dialect: PolicyDialect,
): PolicyDecision | undefined {
  const first = scope.requirements.findIndex((r) => r.type === 'reject')
  if (first < 0) return undefined
  const imageName = imageNameOf(image)
  const requirements = scope.requirements.map((requirement, index): RequirementVerdict => {
    if (requirement.type === 'reject') return rejectVerdict(index, scope.field, imageName)
    return {
      index,
      field: `${scope.field}[${index}]`,
      type: requirement.type,
      signatures: [],
      accepted: false,
      code: 'ERR_IMAGE_POLICY_NOT_EVALUATED',
      reason: `not evaluated: ${scope.field}[${first}] rejects every image`,
    }
  })
  const reason = requirements[first]?.reason ?? `Running image ${imageName} is rejected by policy.`
  return { accepted: false, dialect, scope, requirements, reason }
}

/**
 * Decide whether the policy allows a `docker:` image.
 *
 * @example
 * ```ts
 * const decision = await decideImagePolicy(policy, image, { now: new Date(), readKeyFile })
 * if (!decision.accepted) console.error(decision.reason)
 * ```
 */
export async function decideImagePolicy(
  policy: ImagePolicy,
  image: ImageUnderPolicy & { readonly reference: DockerImageReference },
  context: DecisionContext,
): Promise<PolicyDecision> {
  return decideScope(lookupDockerScope(policy, image.reference), image, policy.dialect, context)
}

/**
 * The scopes containers/image tries for a `dir:` or `oci:` path: the path itself, then each
 * parent directory up to (not including) `/`.
 */
export function pathScopeCandidates(path: string): readonly ScopeCandidate[] {
  const candidates: ScopeCandidate[] = [{ scope: path, kind: 'identity' }]
  for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
    candidates.push({ scope: path.slice(0, cut), kind: 'namespace' })
  }
  return candidates
}

/**
 * Decide whether the policy allows a local `dir:` or `oci:` image at an absolute, canonical
 * `path`. The image-rs dialect looks up only the `docker` transport and so refuses these.
 */
export async function decideLocalImagePolicy(
  policy: ImagePolicy,
  transport: 'dir' | 'oci',
  path: string,
  image: ImageUnderPolicy,
  context: DecisionContext,
): Promise<PolicyDecision> {
  return decideScope(
    lookupScope(policy, transport, pathScopeCandidates(path)),
    image,
    policy.dialect,
    context,
  )
}

/**
 * Whether the Docker identity a signature claims is acceptable for an image, per the policy's
 * `signedIdentity` (containers/image `signature/policy_reference_match.go`). The manifest digest
 * check that every type also needs is not done here.
 *
 * @module
 */
import { isNameOnly, parseDockerReference, type DockerReference } from './docker-reference.ts'
import type { SignedIdentity } from './policy.ts'

/** The identity rule that applies when `signedBy`/`sigstoreSigned` gives none. */
export const DEFAULT_SIGNED_IDENTITY: SignedIdentity = { type: 'matchRepoDigestOrExact' }

function tryParse(text: string): DockerReference | undefined {
  try {
    return parseDockerReference(text)
  } catch {
    return undefined
  }
}

/** Like `ParseNamed`: the text must already be in normalised form. */
function tryParseCanonical(text: string): DockerReference | undefined {
  const ref = tryParse(text)
  return ref?.text === text ? ref : undefined
}

function repoDigestOrExact(intended: DockerReference, signature: DockerReference): boolean {
  if (isNameOnly(signature)) return false
  if (intended.tag !== undefined) return signature.text === intended.text
  if (intended.digest !== undefined) return signature.name === intended.name
  return false
}

function remap(
  prefix: string,
  signedPrefix: string,
  ref: DockerReference,
): DockerReference | undefined {
  const name = ref.name
  const matches =
    name === prefix ||
    (name.length > prefix.length && name.startsWith(prefix) && name[prefix.length] === '/')
  if (!matches) return ref
  return tryParseCanonical(signedPrefix + ref.text.slice(prefix.length))
}

/**
 * True when a signature claiming `signatureIdentity` satisfies `rule` for an image whose Docker
 * reference is `image` (undefined for images without one, such as `dir:` and `oci:`; then only
 * `exactReference` and `exactRepository` can match). Unparsable claims never match.
 *
 * @example
 * ```ts
 * const image = parseDockerImageReference('quay.io/org/app@sha256:…')
 * matchesSignedIdentity({ type: 'matchRepoDigestOrExact' }, image, 'quay.io/org/app:v1') // true
 * ```
 */
export function matchesSignedIdentity(
  rule: SignedIdentity,
  image: DockerReference | undefined,
  signatureIdentity: string,
): boolean {
  const signature = tryParse(signatureIdentity)
  if (signature === undefined) return false
  switch (rule.type) {
    case 'matchExact':
      if (image === undefined || isNameOnly(image) || isNameOnly(signature)) return false
      return signature.text === image.text
    case 'matchRepoDigestOrExact':
      return image !== undefined && repoDigestOrExact(image, signature)
    case 'matchRepository':
      return image?.name === signature.name
    case 'exactReference': {
      const intended = tryParse(rule.dockerReference)
      if (intended === undefined || isNameOnly(intended) || isNameOnly(signature)) return false
      return signature.text === intended.text
    }
    case 'exactRepository': {
      const intended = tryParse(rule.dockerRepository)
      return intended?.name === signature.name
    }
    case 'remapIdentity': {
      if (image === undefined) return false
      const intended = remap(rule.prefix, rule.signedPrefix, image)
      return intended !== undefined && repoDigestOrExact(intended, signature)
    }
  }
}

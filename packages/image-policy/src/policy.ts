/**
 * Strict parsing of containers-policy.json(5), as containers/image (`signature/policy_config.go`)
 * loads it: unknown and duplicate keys, empty requirement lists and ambiguous key sources reject
 * the whole file. Key material is kept as given; nothing is verified here.
 *
 * @module
 */
import { utf8ToString } from '@initguard/core'
import { dockerScopeProblem } from './docker-scope.ts'
import { parseStrictJson } from './strict-json.ts'
import { fault, child, asObject, checkKeys, required } from './policy-fields.ts'
import { parseRequirementList, type PolicyDialect } from './policy-requirements.ts'

export type { PolicyDialect } from './policy-requirements.ts'

/** How a signature's claimed identity must relate to the image (containers-policy.json(5)). */
export type SignedIdentity =
  | { readonly type: 'matchExact' }
  | { readonly type: 'matchRepoDigestOrExact' }
  | { readonly type: 'matchRepository' }
  | { readonly type: 'exactReference'; readonly dockerReference: string }
  | { readonly type: 'exactRepository'; readonly dockerRepository: string }
  | { readonly type: 'remapIdentity'; readonly prefix: string; readonly signedPrefix: string }

/** `signedBy` key types containers/image parses; only `GPGKeys` is implemented there. */
export type SignedByKeyType = 'GPGKeys' | 'signedByGPGKeys' | 'X509Certificates' | 'signedByX509CAs'

/** Where a requirement's public keys come from. `keyData` is decoded from its base64. */
export type KeySource =
  | { readonly kind: 'keyPath'; readonly path: string }
  | { readonly kind: 'keyPaths'; readonly paths: readonly string[] }
  | { readonly kind: 'keyData'; readonly data: Uint8Array }
  | { readonly kind: 'keyDatas'; readonly data: readonly Uint8Array[] }

/** The `fulcio` key source of `sigstoreSigned`. */
export interface FulcioSource {
  readonly kind: 'fulcio'
  /** The CA certificates: a path, or the decoded `caData`. */
  readonly ca:
    | { readonly kind: 'caPath'; readonly path: string }
    | { readonly kind: 'caData'; readonly data: Uint8Array }
  readonly oidcIssuer: string
  readonly subjectEmail: string
}

/** Certificates a policy names: a PEM file, or the decoded `…Data`. */
export type CertificatesSource =
  | { readonly kind: 'path'; readonly path: string }
  | { readonly kind: 'data'; readonly data: Uint8Array }

/** The `pki` key source of `sigstoreSigned` (containers/image 5.35). */
export interface PkiSource {
  readonly kind: 'pki'
  /** `caRootsPath` / `caRootsData`: the trusted roots. */
  readonly caRoots: CertificatesSource
  /** `caIntermediatesPath` / `caIntermediatesData`, when given. */
  readonly caIntermediates: CertificatesSource | undefined
  /** At least one of `subjectEmail` and `subjectHostname` is set. */
  readonly subjectEmail: string | undefined
  readonly subjectHostname: string | undefined
}

/** One entry of a requirement list. */
export type PolicyRequirement =
  | { readonly type: 'insecureAcceptAnything' }
  | { readonly type: 'reject' }
  | SignedByRequirement
  | SigstoreSignedRequirement

/** `{"type": "signedBy", …}`: simple signing (GPG). */
export interface SignedByRequirement {
  readonly type: 'signedBy'
  readonly keyType: SignedByKeyType
  readonly keySource: Exclude<KeySource, { kind: 'keyDatas' }>
  /** The identity rule; `matchRepoDigestOrExact` when the policy gives none. */
  readonly signedIdentity: SignedIdentity
  /** Whether the policy spelt `signedIdentity` out (image-rs treats absence differently). */
  readonly signedIdentityGiven: boolean
}

/** `{"type": "sigstoreSigned", …}`. */
export interface SigstoreSignedRequirement {
  readonly type: 'sigstoreSigned'
  readonly keySource: KeySource | FulcioSource | PkiSource
  /** Rekor public keys, when given (mandatory with `fulcio`, refused with `pki`). */
  readonly rekorPublicKeys: KeySource | undefined
  readonly signedIdentity: SignedIdentity
  readonly signedIdentityGiven: boolean
}

/** A parsed policy. */
export interface ImagePolicy {
  /** Whose reading of policy.json this is. */
  readonly dialect: PolicyDialect
  /** The global default requirement list (never empty in the containers-image dialect). */
  readonly default: readonly PolicyRequirement[]
  /** transport → scope → requirement list (never empty), in document order. */
  readonly transports: ReadonlyMap<string, ReadonlyMap<string, readonly PolicyRequirement[]>>
}

/** How to read a policy document. */
export interface PolicyParseOptions {
  /**
   * `containers-image` (default) follows containers-policy.json(5) as containers/image and skopeo
   * read it. `image-rs` follows Confidential Containers' image-rs, which differs: `transports` is
   * required, an empty requirement list accepts, `keyPaths`/`keyDatas`/`fulcio`/`pki`/`rekorPublicKey*`
   * are unknown, and `sigstoreSigned.keyData` is PEM text rather than base64.
   */
  readonly dialect?: PolicyDialect
}

/**
 * Every transport name containers/image has had (`transports.Get`), current and deprecated. It
 * accepts any other name under `transports` and never looks it up, so a misspelt `"Docker"` or
 * `"dokcer"` silently leaves its scopes unused and images fall to `default`; we refuse it.
 */
export const CONTAINERS_IMAGE_TRANSPORTS: readonly string[] = [
  'atomic',
  'containers-storage',
  'dir',
  'docker',
  'docker-archive',
  'docker-daemon',
  'oci',
  'oci-archive',
  'ostree',
  'sif',
  'tarball',
]

/** Transports whose scopes we validate; any other transport's scopes are kept as opaque strings. */
export const KNOWN_TRANSPORTS: readonly ['docker', 'oci', 'dir'] = ['docker', 'oci', 'dir']

export const SIGNED_BY_KEY_TYPES: readonly string[] = [
  'GPGKeys',
  'signedByGPGKeys',
  'X509Certificates',
  'signedByX509CAs',
]

/**
 * Parse a policy.json document.
 *
 * @param input - the file's bytes (UTF-8) or text.
 * @throws {@link MalformedInputError} with `details.field` naming the JSON path: `ERR_IMAGE_POLICY_EMPTY`,
 *   `ERR_UTF8_INVALID`, `ERR_IMAGE_POLICY_JSON`, `ERR_IMAGE_POLICY_TOO_DEEP`, `ERR_IMAGE_POLICY_DUPLICATE_KEY`,
 *   `ERR_IMAGE_POLICY_UNKNOWN_FIELD`, `ERR_IMAGE_POLICY_MISSING_FIELD`, `ERR_IMAGE_POLICY_TYPE`,
 *   `ERR_IMAGE_POLICY_EMPTY_VALUE`, `ERR_IMAGE_POLICY_EMPTY_REQUIREMENTS`, `ERR_IMAGE_POLICY_REQUIREMENT_TYPE`,
 *   `ERR_IMAGE_POLICY_KEY_TYPE`, `ERR_IMAGE_POLICY_KEY_SOURCE`, `ERR_IMAGE_POLICY_KEY_DATA`,
 *   `ERR_IMAGE_POLICY_REKOR`, `ERR_IMAGE_POLICY_IDENTITY_TYPE`, `ERR_IMAGE_POLICY_IDENTITY_VALUE`,
 *   `ERR_IMAGE_POLICY_TRANSPORT` (a transport name containers/image never had),
 *   `ERR_IMAGE_POLICY_SCOPE`.
 * @example
 * ```ts
 * const policy = parseImagePolicy('{"default":[{"type":"reject"}]}')
 * ```
 */
export function parseImagePolicy(
  input: Uint8Array | string,
  options: PolicyParseOptions = {},
): ImagePolicy {
  const dialect = options.dialect ?? 'containers-image'
  const text = typeof input === 'string' ? input : utf8ToString(input, { field: 'policy.json' })
  if (text.trim() === '') {
    throw fault(
      'ERR_IMAGE_POLICY_EMPTY',
      'the policy document is empty',
      '',
      'give a JSON object with at least "default"',
    )
  }
  const root = asObject(parseStrictJson(text, 'the policy document'), 'the policy document')
  checkKeys(root, ['default', 'transports'], 'policy')
  if (dialect === 'image-rs' && !root.has('transports')) {
    throw fault(
      'ERR_IMAGE_POLICY_MISSING_FIELD',
      'the policy has no "transports", which image-rs requires',
      'transports',
      'add "transports": {} (image-rs refuses a policy without it as "Invalid image policy file")',
    )
  }
  const defaultReqs = parseRequirementList(required(root, 'default', 'policy'), 'default', dialect)
  const transports = new Map<string, ReadonlyMap<string, readonly PolicyRequirement[]>>()
  const transportsNode = root.get('transports')
  if (transportsNode !== undefined) {
    for (const [transport, scopesNode] of asObject(transportsNode, 'transports')) {
      const transportField = child('transports', transport)
      if (!CONTAINERS_IMAGE_TRANSPORTS.includes(transport)) {
        throw fault(
          'ERR_IMAGE_POLICY_TRANSPORT',
          `transports has ${JSON.stringify(transport.slice(0, 40))}, which is not a transport name, so its scopes would never apply`,
          transportField,
          `use one of ${CONTAINERS_IMAGE_TRANSPORTS.join(', ')} (docker for registry images); names are case-sensitive`,
        )
      }
      const scopes = new Map<string, readonly PolicyRequirement[]>()
      for (const [scope, listNode] of asObject(scopesNode, transportField)) {
        const scopeField = child(transportField, scope)
        validateScope(transport, scope, scopeField)
        scopes.set(scope, parseRequirementList(listNode, scopeField, dialect))
      }
      transports.set(transport, scopes)
    }
  }
  return { dialect, default: defaultReqs, transports }
}

function validateScope(transport: string, scope: string, field: string): void {
  if (scope === '') return
  if (transport === 'docker') {
    const problem = dockerScopeProblem(scope)
    if (problem !== undefined)
      throw fault(
        'ERR_IMAGE_POLICY_SCOPE',
        `docker scope ${JSON.stringify(scope.slice(0, 80))} ${problem.why}, so it would never apply`,
        field,
        problem.hint,
      )
    return
  }
  if (transport !== 'dir' && transport !== 'oci') return
  // dir and oci scopes are absolute, canonical paths; "/" is refused ("" is the default).
  const canonical =
    scope.startsWith('/') &&
    scope !== '/' &&
    !scope.endsWith('/') &&
    !scope.includes('//') &&
    !scope.split('/').some((part) => part === '.' || part === '..')
  if (!canonical) {
    throw fault(
      'ERR_IMAGE_POLICY_SCOPE',
      `${transport} scope ${JSON.stringify(scope.slice(0, 80))} is not an absolute, canonical path other than "/"`,
      field,
      `write an absolute path without trailing "/", "//", "." or ".." components; use "" for the transport default`,
    )
  }
}

/**
 * Docker image references, parsed and normalised the way containers/image (`docker/reference`,
 * `ParseNormalizedNamed`) and its `docker:` transport do it.
 *
 * - The first path component is the registry when it contains `.` or `:` or is `localhost`;
 *   otherwise the registry is `docker.io`. `index.docker.io` becomes `docker.io`, and a
 *   single-component name on `docker.io` gets `library/`.
 * - Repository path components are lower-case `[a-z0-9]+` joined by `.`, `_`, `__` or runs of `-`;
 *   the registry may carry upper case, an IPv6 literal in brackets and a `:port`.
 * - Tags match `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; digests are `sha256:` (or `sha384:`/`sha512:`)
 *   followed by lower-case hex of the algorithm's length, as go-digest validates them.
 * - An image reference for the `docker:` transport gets `:latest` when it has neither tag nor
 *   digest, and one with both a tag and a digest is refused.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'

/** The registry that names without one resolve to. */
export const DOCKER_DEFAULT_DOMAIN = 'docker.io'
/** The maximum length of a repository name (`host/path`), as docker/reference enforces it. */
export const DOCKER_NAME_MAX_LENGTH = 255

/** A parsed, normalised Docker reference: `name[:tag][@digest]`, possibly name-only. */
export interface DockerReference {
  /** The registry, `host[:port]`, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string
  /** The repository path inside the registry, e.g. `library/busybox`. */
  readonly path: string
  /** The full repository name, `domain/path` (containers/image `Name()`). */
  readonly name: string
  /** The tag, without `:`, when there is one. */
  readonly tag: string | undefined
  /** The digest, `algorithm:hex`, when there is one. */
  readonly digest: string | undefined
  /** The whole normalised reference, `name[:tag][@digest]` (containers/image `String()`). */
  readonly text: string
}

/** A reference as the `docker:` transport uses it: exactly one of tag and digest. */
export interface DockerImageReference extends DockerReference {
  /** The policy identity: `name:tag` or `name@digest`. */
  readonly identity: string
  /** The parent namespaces of the repository, most specific first, e.g. `["quay.io/org"]`. */
  readonly parentNamespaces: readonly string[]
  /** `host[:port]`, the least specific non-wildcard namespace (equal to `domain`). */
  readonly host: string
  /** The `*.`-wildcard scopes for the host (port stripped), most specific first. */
  readonly wildcardScopes: readonly string[]
}

const IDENTIFIER = /^[a-f0-9]{64}$/
// Path component: `[a-z0-9]+` runs joined by `.`, `_`, `__` or one or more `-`. docker/reference
// writes the dash separator as `[-]*`, which accepts the same language; `+` keeps this linear in JS.
const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/
const DOMAIN_LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])'
const DOMAIN = new RegExp(
  `^(?:${DOMAIN_LABEL}(?:\\.${DOMAIN_LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`,
)
const TAG = /^\w[\w.-]{0,127}$/
const DIGEST_GRAMMAR = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/
const DIGEST_HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
])

function refError(
  code: `ERR_IMAGE_REF_${string}`,
  message: string,
  hint: string,
  field: string,
): MalformedInputError {
  return new MalformedInputError(code, message, { hint, details: { field } })
}

/** A short, safe rendering of untrusted text for messages. */
function quote(text: string): string {
  return text.length <= 80 ? JSON.stringify(text) : `a ${text.length}-character string`
}

/** True when `text` is a valid `host[:port]` as docker/reference accepts it. */
export function isValidDockerDomain(text: string): boolean {
  return DOMAIN.test(text)
}

/**
 * True when `text` is a repository name in docker/reference's grammar, `[domain/]component(/component)*`,
 * without normalisation (so `busybox` and `quay.io/org/app` are both names).
 */
export function isValidDockerName(text: string): boolean {
  const parts = text.split('/')
  return parts.every(
    (part, i) =>
      PATH_COMPONENT.test(part) || (i === 0 && parts.length > 1 && isValidDockerDomain(part)),
  )
}

/**
 * Parse a reference like containers/image's `ParseNormalizedNamed`: normalise the registry and
 * `library/`, keep a name-only reference name-only, and accept a tag and a digest together.
 * Use this for identities claimed in signatures and in policy fields.
 *
 * @param field - names the input in error messages (default `"image reference"`).
 * @throws {@link MalformedInputError} `ERR_IMAGE_REF_EMPTY`, `ERR_IMAGE_REF_IDENTIFIER`,
 *   `ERR_IMAGE_REF_UPPERCASE`, `ERR_IMAGE_REF_FORMAT`, `ERR_IMAGE_REF_TOO_LONG`,
 *   `ERR_IMAGE_REF_DIGEST`.
 * @example
 * ```ts
 * parseDockerReference('busybox').text // 'docker.io/library/busybox'
 * ```
 */
export function parseDockerReference(text: string, field = 'image reference'): DockerReference {
  if (text.length === 0) {
    throw refError(
      'ERR_IMAGE_REF_EMPTY',
      `${field} is empty`,
      'give a reference such as quay.io/org/app:1.0',
      field,
    )
  }
  if (IDENTIFIER.test(text)) {
    throw refError(
      'ERR_IMAGE_REF_IDENTIFIER',
      `${field} is a 64-character hexadecimal image ID, not a repository name`,
      'name the image by repository, e.g. repo@sha256:<hex>',
      field,
    )
  }
  const { domain, remainder } = splitDockerDomain(text)
  const tagSep = remainder.indexOf(':')
  const remoteName = tagSep === -1 ? remainder : remainder.slice(0, tagSep)
  if (remoteName.toLowerCase() !== remoteName) {
    throw uppercaseError(text, field)
  }
  const parsed = splitReference(`${domain}/${remainder}`)
  if (parsed === undefined) {
    if (splitReference(`${domain}/${remainder}`.toLowerCase()) !== undefined) {
      throw uppercaseError(text, field)
    }
    throw refError(
      'ERR_IMAGE_REF_FORMAT',
      `${field} ${quote(text)} is not a valid reference`,
      'write [host[:port]/]path[:tag][@sha256:<64 hex>] with a lower-case path',
      field,
    )
  }
  if (parsed.name.length > DOCKER_NAME_MAX_LENGTH) {
    throw refError(
      'ERR_IMAGE_REF_TOO_LONG',
      `${field} has a ${parsed.name.length}-character repository name; at most ${DOCKER_NAME_MAX_LENGTH} are allowed`,
      'shorten the repository name',
      field,
    )
  }
  if (parsed.digest !== undefined) checkDigest(parsed.digest, field)
  const slash = parsed.name.indexOf('/')
  return {
    domain: parsed.name.slice(0, slash),
    path: parsed.name.slice(slash + 1),
    name: parsed.name,
    tag: parsed.tag,
    digest: parsed.digest,
    text:
      parsed.name +
      (parsed.tag === undefined ? '' : `:${parsed.tag}`) +
      (parsed.digest === undefined ? '' : `@${parsed.digest}`),
  }
}

/**
 * Parse a reference as the `docker:` transport does: normalise, refuse a tag together with a
 * digest, and add `:latest` when there is neither.
 *
 * @throws {@link MalformedInputError} everything {@link parseDockerReference} throws, and
 *   `ERR_IMAGE_REF_TAG_AND_DIGEST`.
 * @example
 * ```ts
 * parseDockerImageReference('busybox').identity // 'docker.io/library/busybox:latest'
 * ```
 */
export function parseDockerImageReference(
  text: string,
  field = 'image reference',
): DockerImageReference {
  const ref = parseDockerReference(text, field)
  if (ref.tag !== undefined && ref.digest !== undefined) {
    throw refError(
      'ERR_IMAGE_REF_TAG_AND_DIGEST',
      `${field} ${quote(text)} has both a tag and a digest, which the docker transport does not support`,
      'keep only the digest (repo@sha256:…) or only the tag (repo:tag)',
      field,
    )
  }
  const tag = ref.tag === undefined && ref.digest === undefined ? 'latest' : ref.tag
  const identity = tag !== undefined ? `${ref.name}:${tag}` : `${ref.name}@${ref.digest ?? ''}`
  return {
    ...ref,
    tag,
    text: identity,
    identity,
    parentNamespaces: parentNamespacesOf(ref.name),
    host: ref.domain,
    wildcardScopes: wildcardScopesOf(ref.domain),
  }
}

/**
 * The short form Docker prints (`reference.FamiliarString`): `docker.io/` and then `library/`
 * dropped, e.g. `busybox:latest`, `org/app:v1`, `quay.io/org/app:v1`.
 */
export function familiarReference(ref: DockerReference): string {
  if (ref.domain !== DOCKER_DEFAULT_DOMAIN) return ref.text
  const rest = ref.text.slice(DOCKER_DEFAULT_DOMAIN.length + 1)
  // `library/` is dropped only from one-component names: library/busybox → busybox.
  const official = ref.path.startsWith('library/') && !ref.path.slice(8).includes('/')
  return official ? rest.slice('library/'.length) : rest
}

/** True when the reference has neither a tag nor a digest. */
export function isNameOnly(ref: DockerReference): boolean {
  return ref.tag === undefined && ref.digest === undefined
}

/**
 * The namespaces containers/image searches after the exact identity, in its order: the
 * repository, each parent namespace, `host[:port]`, then the `*.` wildcards.
 */
export function dockerPolicyNamespaces(ref: DockerImageReference): readonly string[] {
  return [ref.name, ...ref.parentNamespaces, ref.host, ...ref.wildcardScopes]
}

function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const i = name.indexOf('/')
  let domain: string
  let remainder: string
  if (i === -1 || (!/[.:]/.test(name.slice(0, i)) && name.slice(0, i) !== 'localhost')) {
    domain = DOCKER_DEFAULT_DOMAIN
    remainder = name
  } else {
    domain = name.slice(0, i)
    remainder = name.slice(i + 1)
  }
  if (domain === 'index.docker.io') domain = DOCKER_DEFAULT_DOMAIN
  if (domain === DOCKER_DEFAULT_DOMAIN && !remainder.includes('/')) {
    remainder = `library/${remainder}`
  }
  return { domain, remainder }
}

/** Split `name[:tag][@digest]` and check the grammar; undefined when it does not match. */
function splitReference(
  text: string,
): { name: string; tag: string | undefined; digest: string | undefined } | undefined {
  let rest = text
  let digest: string | undefined
  const at = rest.indexOf('@')
  if (at !== -1) {
    digest = rest.slice(at + 1)
    rest = rest.slice(0, at)
    if (!DIGEST_GRAMMAR.test(digest)) return undefined
  }
  let tag: string | undefined
  const lastSlash = rest.lastIndexOf('/')
  const colon = rest.indexOf(':', lastSlash + 1)
  // A colon after the last slash is a tag, unless the whole thing is a single component (then
  // it could only be a port, and a name needs a path component anyway).
  if (colon !== -1 && lastSlash !== -1) {
    tag = rest.slice(colon + 1)
    rest = rest.slice(0, colon)
    if (!TAG.test(tag)) return undefined
  }
  if (!isValidDockerName(rest)) return undefined
  return { name: rest, tag, digest }
}

function checkDigest(digest: string, field: string): void {
  const colon = digest.indexOf(':')
  const algorithm = digest.slice(0, colon)
  const hex = digest.slice(colon + 1)
  const length = DIGEST_HEX_LENGTHS.get(algorithm)
  if (length === undefined || hex.length !== length || !/^[a-f0-9]+$/.test(hex)) {
    throw refError(
      'ERR_IMAGE_REF_DIGEST',
      `${field} has digest algorithm "${algorithm.slice(0, 20)}" with ${hex.length} hex digits; expected sha256 (64), sha384 (96) or sha512 (128) lower-case hex digits`,
      'copy the digest exactly as the registry reports it, e.g. sha256:<64 lower-case hex>',
      field,
    )
  }
}

function uppercaseError(text: string, field: string): MalformedInputError {
  return refError(
    'ERR_IMAGE_REF_UPPERCASE',
    `${field} ${quote(text)} has upper case in its repository path`,
    'repository paths must be lower case; only the registry host may contain upper case',
    field,
  )
}

function parentNamespacesOf(name: string): string[] {
  const res: string[] = []
  let current = name
  // Stop before the host: the loop in containers/image ends with `host[:port]`, which we expose
  // separately as `host`.
  for (;;) {
    const lastSlash = current.lastIndexOf('/')
    if (lastSlash === -1) break
    current = current.slice(0, lastSlash)
    if (!current.includes('/')) break
    res.push(current)
  }
  return res
}

/**
 * The `*.`-wildcard scopes that cover `host` (`host[:port]`, port ignored), most specific first:
 * `a.b.example` gives `*.b.example`, `*.example`. An IPv6 literal gets none.
 */
export function wildcardScopesOf(host: string): string[] {
  // Plain string work, as containers/image does it: cut at the first `:` (the port; for an IPv6
  // literal this leaves `[`, so no wildcards), then drop leading labels one at a time. IPv4
  // addresses therefore get `*.0.0.1`-style scopes too.
  const colon = host.indexOf(':')
  let current = colon === -1 ? host : host.slice(0, colon)
  const res: string[] = []
  for (;;) {
    const dot = current.indexOf('.')
    if (dot === -1) break
    current = current.slice(dot + 1)
    res.push(`*.${current}`)
  }
  return res
}

/**
 * OCI and Docker schema 2 manifests as a registry serves them: media types, strict-enough parsing
 * (every descriptor has a media type, a well-formed digest and a safe size) and platform selection
 * in an index or manifest list. Schema 1 manifests are refused: they carry no content digests for
 * their config and are deprecated everywhere.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { ExpectationError, MalformedInputError, parseStrictJsonValue } from '@initguard/core'

/** OCI image index. */
export const OCI_INDEX_MEDIA_TYPE = 'application/vnd.oci.image.index.v1+json'
/** OCI image manifest. */
export const OCI_MANIFEST_MEDIA_TYPE = 'application/vnd.oci.image.manifest.v1+json'
/** Docker schema 2 manifest list. */
export const DOCKER_LIST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.list.v2+json'
/** Docker schema 2 image manifest. */
export const DOCKER_MANIFEST_MEDIA_TYPE = 'application/vnd.docker.distribution.manifest.v2+json'

/** The manifest media types a pull accepts, for the `Accept` header. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  OCI_INDEX_MEDIA_TYPE,
  OCI_MANIFEST_MEDIA_TYPE,
  DOCKER_LIST_MEDIA_TYPE,
  DOCKER_MANIFEST_MEDIA_TYPE,
]

const INDEX_TYPES = new Set([OCI_INDEX_MEDIA_TYPE, DOCKER_LIST_MEDIA_TYPE])
const IMAGE_TYPES = new Set([OCI_MANIFEST_MEDIA_TYPE, DOCKER_MANIFEST_MEDIA_TYPE])
const SCHEMA1_TYPES = new Set([
  'application/vnd.docker.distribution.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.v1+prettyjws',
])

/** The digest algorithms we can compute, with the hex length each one has. */
const HEX_LENGTHS: ReadonlyMap<string, number> = new Map([
  ['sha256', 64],
  ['sha384', 96],
  ['sha512', 128],
])

/** A platform as an index names it. */
export interface Platform {
  readonly os: string
  readonly architecture: string
  readonly variant?: string
}

/** A content descriptor: what a manifest says about a blob or another manifest. */
export interface Descriptor {
  readonly mediaType: string
  readonly digest: string
  readonly size: number
  readonly platform?: Platform
  readonly annotations?: Readonly<Record<string, string>>
  readonly urls?: readonly string[]
  readonly artifactType?: string
}

/** An OCI index or Docker manifest list. */
export interface ImageIndex {
  readonly kind: 'index'
  readonly mediaType: string
  readonly manifests: readonly Descriptor[]
}

/** An OCI or Docker schema 2 image manifest. */
export interface ImageManifest {
  readonly kind: 'image'
  readonly mediaType: string
  readonly config: Descriptor
  readonly layers: readonly Descriptor[]
  readonly annotations?: Readonly<Record<string, string>>
}

/** Either kind of manifest. */
export type ParsedManifest = ImageIndex | ImageManifest

function malformed(message: string, field: string): MalformedInputError {
  return new MalformedInputError('ERR_REGISTRY_MANIFEST', `manifest ${message}`, {
    details: { field },
    hint: 'the registry served a manifest that is not a valid OCI or Docker schema 2 manifest',
  })
}

/**
 * The algorithm of a digest `algorithm:hex`, after checking its form.
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_DIGEST_FORMAT`.
 */
export function digestAlgorithm(digest: string, field = 'digest'): string {
  const colon = digest.indexOf(':')
  const algorithm = digest.slice(0, colon)
  const length = HEX_LENGTHS.get(algorithm)
  if (
    colon < 0 ||
    length === undefined ||
    !new RegExp(`^[a-f0-9]{${length}}$`).test(digest.slice(colon + 1))
  ) {
    throw new MalformedInputError(
      'ERR_REGISTRY_DIGEST_FORMAT',
      `${field} is not a sha256, sha384 or sha512 digest in lower-case hex`,
      { details: { field }, hint: 'write digests as sha256:<64 lower-case hex digits>' },
    )
  }
  return algorithm
}

/** The digest `algorithm:hex` of `bytes` (default sha256). */
export function computeDigest(bytes: Uint8Array, algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function stringField(value: unknown, field: string, optional = false): string | undefined {
  if (value === undefined && optional) return undefined
  if (typeof value !== 'string' || value.length === 0)
    throw malformed(`has no string ${field}`, field)
  return value
}

function stringMap(value: unknown, field: string): Readonly<Record<string, string>> | undefined {
  if (value === undefined) return undefined
  if (!isRecord(value) || !Object.values(value).every((v) => typeof v === 'string'))
    throw malformed(`has a ${field} that is not a map of strings`, field)
  return value as Record<string, string>
}

function parsePlatform(value: unknown, field: string): Platform | undefined {
  if (value === undefined) return undefined
  if (!isRecord(value)) throw malformed(`has a ${field} that is not an object`, field)
  refuseCaseVariants(value, PLATFORM_FIELDS, field)
  const os = stringField(value['os'], `${field}.os`) ?? ''
  const architecture = stringField(value['architecture'], `${field}.architecture`) ?? ''
  const variant = stringField(value['variant'], `${field}.variant`, true)
  return { os, architecture, ...(variant === undefined ? {} : { variant }) }
}

/** The fields containers/image and containerd decode from a manifest or index document. */
const DOCUMENT_FIELDS = [
  'schemaVersion',
  'mediaType',
  'artifactType',
  'config',
  'layers',
  'manifests',
  'subject',
  'annotations',
]
/** The fields they decode from a descriptor. */
const DESCRIPTOR_FIELDS = [
  'mediaType',
  'digest',
  'size',
  'urls',
  'annotations',
  'data',
  'platform',
  'artifactType',
]
/** The fields they decode from a platform. */
const PLATFORM_FIELDS = ['architecture', 'os', 'os.version', 'os.features', 'variant', 'features']

/** A key as Go's encoding/json compares it with a field name (Unicode simple case folding). */
function goFold(key: string): string {
  // Beyond ASCII case, only the long s and the Kelvin sign fold onto a letter of these names.
  return key
    .replace(/\u017f/gu, 's')
    .replace(/\u212a/gu, 'k')
    .toLowerCase()
}

/**
 * The first key of `record` that Go's encoding/json would take for one of `fields` although it is
 * not spelt exactly so (`Layers`, `DIGEST`, `layer\u017f` for `layers`…), if any. Go matches
 * field names without regard to case and lets a later key overwrite an earlier one; serde and
 * this parser match exactly. Exported for the image config's check; not part of the API.
 */
export function caseVariantKey(
  record: Readonly<Record<string, unknown>>,
  fields: readonly string[],
): { readonly key: string; readonly field: string } | undefined {
  const folded = new Map(fields.map((f) => [goFold(f), f]))
  for (const key of Object.keys(record)) {
    const field = folded.get(goFold(key))
    if (field !== undefined && field !== key) return { key, field }
  }
  return undefined
}

/**
 * Refuse a key that Go's decoder (containers/image, containerd, skopeo) reads as a field and this
 * parser does not: the same digest-pinned, signed bytes would name other layers, another config
 * or another platform's manifest depending on the client.
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_MANIFEST_AMBIGUOUS`.
 */
function refuseCaseVariants(
  record: Readonly<Record<string, unknown>>,
  fields: readonly string[],
  where: string,
): void {
  const variant = caseVariantKey(record, fields)
  if (variant === undefined) return
  const key = JSON.stringify(variant.key.slice(0, 60))
  throw new MalformedInputError(
    'ERR_REGISTRY_MANIFEST_AMBIGUOUS',
    `the manifest's ${where} has the key ${key}, which Go's JSON decoder (containers/image, containerd) reads as "${variant.field}" and serde does not: it could be read either way`,
    {
      details: { field: where, key: variant.key.slice(0, 60), as: variant.field },
      hint: 'the registry serves a document that means different things to different clients: do not pull it; push the image again with a current tool',
    },
  )
}

/** Keys whose values Go's encoding/json decodes into integers in a manifest, index or layout. */
const INTEGER_KEYS = new Set(['size', 'schemaversion'])
const NUMBER_LITERAL = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y

/** What {@link nonIntegerLiteral} found. */
export interface NonIntegerLiteral {
  /** The key as written (at most 60 characters). */
  readonly key: string
  /** The number as written (at most 60 characters). */
  readonly literal: string
  /** Where the number starts in the text. */
  readonly offset: number
}

/**
 * The first value of a `size` or `schemaVersion` key in `text` (valid JSON, already parsed)
 * written with a fraction or an exponent (`201.0`, `2.01e2`, `201E0`), if any. `JSON.parse` reads
 * these as the integer 201, but Go's encoding/json, which skopeo, containers/image and containerd
 * decode manifests with, parses an integer field's literal with `strconv.ParseInt` and refuses
 * them ("cannot unmarshal number 201.0 into … of type int64"): accepting them would pull images
 * those tools refuse. `-0` passes, as `ParseInt` reads it as 0; leading zeros are not JSON, so the
 * parser has refused them already. Keys are compared as Go does, without regard to case (a key
 * in another case is refused elsewhere). Exported for the OCI layout's index; not part of the API.
 */
export function nonIntegerLiteral(text: string): NonIntegerLiteral | undefined {
  let key: string | undefined
  /** The last string read, and whether a colon followed it: the key of the value to come. */
  let lastString: string | undefined
  for (let i = 0; i < text.length; i++) {
    const c = text[i] ?? ''
    if (c === '"') {
      let end = i + 1
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1
      lastString = text.slice(i, end + 1)
      key = undefined
      i = end
    } else if (c === ':') {
      key = lastString
      lastString = undefined
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER_LITERAL.lastIndex = i
      const match = NUMBER_LITERAL.exec(text)
      const literal = match?.[0] ?? c
      const decoded = key === undefined ? undefined : (JSON.parse(key) as string)
      if (
        decoded !== undefined &&
        INTEGER_KEYS.has(goFold(decoded)) &&
        (match?.[1] !== undefined || match?.[2] !== undefined)
      )
        return { key: decoded.slice(0, 60), literal: literal.slice(0, 60), offset: i }
      key = undefined
      i += literal.length - 1
    } else if (c !== ' ' && c !== '\t' && c !== '\n' && c !== '\r') {
      key = undefined
      lastString = undefined
    }
  }
  return undefined
}

/**
 * Parse one descriptor strictly: media type, digest form and a non-negative safe-integer size.
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_MANIFEST`, `ERR_REGISTRY_DIGEST_FORMAT`,
 *   `ERR_REGISTRY_MANIFEST_AMBIGUOUS`.
 */
export function parseDescriptor(value: unknown, field: string): Descriptor {
  if (!isRecord(value)) throw malformed(`has a ${field} that is not an object`, field)
  refuseCaseVariants(value, DESCRIPTOR_FIELDS, field)
  const mediaType = stringField(value['mediaType'], `${field}.mediaType`) ?? ''
  const digest = stringField(value['digest'], `${field}.digest`) ?? ''
  digestAlgorithm(digest, `${field}.digest`)
  const size = value['size']
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0)
    throw malformed(`has a ${field}.size that is not a non-negative integer`, `${field}.size`)
  // (The text of the document is checked for `201.0` and the like by `nonIntegerLiteral`.)
  const platform = parsePlatform(value['platform'], `${field}.platform`)
  const annotations = stringMap(value['annotations'], `${field}.annotations`)
  const urls = value['urls']
  if (urls !== undefined && (!Array.isArray(urls) || !urls.every((u) => typeof u === 'string')))
    throw malformed(`has ${field}.urls that is not a list of strings`, `${field}.urls`)
  const artifactType = stringField(value['artifactType'], `${field}.artifactType`, true)
  return {
    mediaType,
    digest,
    // `-0`, which Go reads as 0.
    size: size + 0,
    ...(platform === undefined ? {} : { platform }),
    ...(annotations === undefined ? {} : { annotations }),
    ...(urls === undefined ? {} : { urls }),
    ...(artifactType === undefined ? {} : { artifactType }),
  }
}

/**
 * Refuse a `size` or `schemaVersion` written as `201.0` or `2.01e2` (see {@link nonIntegerLiteral}).
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_MANIFEST_NUMBER`.
 */
function refuseNonIntegerLiteral(text: string): void {
  const found = nonIntegerLiteral(text)
  if (found === undefined) return
  throw new MalformedInputError(
    'ERR_REGISTRY_MANIFEST_NUMBER',
    `manifest has ${JSON.stringify(found.key)}: ${found.literal} (offset ${found.offset}), a fraction or exponent where Go's JSON decoder (skopeo, containerd) requires an integer literal and refuses the manifest`,
    {
      details: { ...found },
      hint: 'write integer fields as plain integers (201, not 201.0 or 2.01e2); push the image again with a current tool',
    },
  )
}

/** True for the media types of schema 1 manifests, which are refused. */
export function isSchema1MediaType(mediaType: string): boolean {
  return SCHEMA1_TYPES.has(mediaType)
}

function schema1Error(): ExpectationError {
  return new ExpectationError(
    'ERR_REGISTRY_SCHEMA1',
    'the registry served a Docker schema 1 manifest, which is not supported',
    {
      hint: 'push the image again with a current tool (docker, buildah, skopeo) so it is stored as schema 2 or OCI',
    },
  )
}

/**
 * Parse manifest bytes. `contentType` is the response's media type; the document's own
 * `mediaType`, when present, must agree with it (a mismatch could make two parsers disagree).
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_MANIFEST`, `ERR_REGISTRY_MEDIA_TYPE`,
 *   `ERR_REGISTRY_MANIFEST_NUMBER` (a `size` or `schemaVersion` written `201.0` or `2.01e2`),
 *   `ERR_REGISTRY_MANIFEST_AMBIGUOUS` (fields of both an image and an index, or a key that Go's
 *   decoder reads as a field although it is spelt in another case),
 *   `ERR_REGISTRY_DIGEST_FORMAT`; {@link ExpectationError} `ERR_REGISTRY_SCHEMA1`.
 */
export function parseManifest(bytes: Uint8Array, contentType?: string): ParsedManifest {
  const headerType = contentType?.split(';')[0]?.trim().toLowerCase()
  if (headerType !== undefined && isSchema1MediaType(headerType)) throw schema1Error()
  let text: string
  try {
    // The BOM is kept, so JSON refuses it as Go's encoding/json and serde do: decoding would
    // silently drop it and accept a manifest every other client refuses.
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes)
  } catch (error) {
    throw new MalformedInputError('ERR_REGISTRY_MANIFEST', 'manifest is not UTF-8 JSON', {
      cause: error,
      details: { size: bytes.length },
      hint: 'the registry served something other than a manifest',
    })
  }
  // A repeated key is refused: Go's encoding/json keeps the last copy, image-rs's serde refuses
  // the document, so the copy a runtime pulls would depend on the runtime.
  const document = parseStrictJsonValue(text, {
    what: 'the manifest',
    syntaxCode: 'ERR_REGISTRY_MANIFEST',
    hints: { syntax: 'the registry served something other than a manifest' },
  })
  if (!isRecord(document)) throw malformed('is not a JSON object', '$')
  refuseNonIntegerLiteral(text)
  if (document['schemaVersion'] === 1) throw schema1Error()
  refuseCaseVariants(document, DOCUMENT_FIELDS, 'top level')
  if (document['schemaVersion'] !== 2) throw malformed('has no schemaVersion 2', 'schemaVersion')
  const declared = stringField(document['mediaType'], 'mediaType', true)
  const known = (t: string | undefined): boolean =>
    t !== undefined && (INDEX_TYPES.has(t) || IMAGE_TYPES.has(t))
  if (declared !== undefined && known(headerType) && declared !== headerType)
    throw new MalformedInputError(
      'ERR_REGISTRY_MEDIA_TYPE',
      `manifest says it is ${declared} but was served as ${headerType ?? ''}`,
      { details: { mediaType: declared, contentType: headerType ?? '' } },
    )
  // OCI makes `mediaType` optional in the document; then the structure decides.
  const mediaType =
    declared ??
    (known(headerType)
      ? (headerType ?? '')
      : Array.isArray(document['manifests'])
        ? OCI_INDEX_MEDIA_TYPE
        : OCI_MANIFEST_MEDIA_TYPE)
  refuseAmbiguous(document, INDEX_TYPES.has(mediaType))
  if (INDEX_TYPES.has(mediaType)) {
    const manifests = document['manifests']
    if (!Array.isArray(manifests)) throw malformed('index has no manifests list', 'manifests')
    return {
      kind: 'index',
      mediaType,
      manifests: manifests.map((m, i) => parseDescriptor(m, `manifests[${i}]`)),
    }
  }
  if (!IMAGE_TYPES.has(mediaType))
    throw new MalformedInputError(
      'ERR_REGISTRY_MEDIA_TYPE',
      `manifest media type ${JSON.stringify(mediaType.slice(0, 100))} is not supported`,
      {
        details: { mediaType: mediaType.slice(0, 100) },
        hint: 'only OCI and Docker schema 2 images and indexes are supported',
      },
    )
  const layers = document['layers']
  if (!Array.isArray(layers)) throw malformed('has no layers list', 'layers')
  const annotations = stringMap(document['annotations'], 'annotations')
  return {
    kind: 'image',
    mediaType,
    config: parseDescriptor(document['config'], 'config'),
    layers: layers.map((l, i) => parseDescriptor(l, `layers[${i}]`)),
    ...(annotations === undefined ? {} : { annotations }),
  }
}

/** Fields only an image manifest has, and only an index has (schema 1's too, for the image). */
const IMAGE_ONLY_FIELDS = ['config', 'layers', 'fsLayers', 'history']
const INDEX_ONLY_FIELDS = ['manifests']

/**
 * Refuse a document that also has the other kind's fields. Its digest covers its bytes, not how
 * they are read: a document with both `manifests` and `config`/`layers` and no `mediaType` is an
 * image when served as one and an index when served as one, so the registry's unsigned
 * `Content-Type` would choose what a signature or a pinned digest vouches for (CVE-2021-41190;
 * containers/image and containerd refuse it too).
 *
 * @throws {@link MalformedInputError} `ERR_REGISTRY_MANIFEST_AMBIGUOUS`.
 */
function refuseAmbiguous(document: Record<string, unknown>, index: boolean): void {
  const foreign = (index ? IMAGE_ONLY_FIELDS : INDEX_ONLY_FIELDS).filter((f) => f in document)
  if (foreign.length === 0) return
  throw new MalformedInputError(
    'ERR_REGISTRY_MANIFEST_AMBIGUOUS',
    `the ${index ? 'index' : 'image manifest'} also has ${foreign.join(', ')}, which only ${index ? 'an image manifest' : 'an index'} has: it could be read as either`,
    {
      details: { fields: foreign, as: index ? 'index' : 'image' },
      hint: 'the registry serves a document that means different things to different clients: do not pull it; push the image again with a current tool',
    },
  )
}

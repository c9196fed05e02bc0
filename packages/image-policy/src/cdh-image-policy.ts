/**
 * Where the guest's image-rs gets its image security policy and its lookaside ("sigstore")
 * configuration, read from the `cdh.toml` that an initdata document carries in `[data]`. Pure.
 *
 * image-rs (`image-rs/src/config.rs` `ImageConfig`, `builder.rs`, `resource/mod.rs`) takes, under
 * `[image]`:
 *
 * - `image_security_policy_uri`, else `image_security_policy` (inline JSON text). When both are
 *   given image-rs lets **the URI win** and drops the inline text without a word. Initguard
 *   refuses both-given as ambiguous (`ERR_CDH_POLICY_AMBIGUOUS`), on purpose: a verified
 *   reject-all inline policy must not be replaced by whatever the URI serves.
 * - `sigstore_config_uri`, else `sigstore_config` (inline registries.d-style YAML), the same way
 *   (both given: `ERR_CDH_SIGSTORE_CONFIG_AMBIGUOUS`). image-rs fetches it whenever it is
 *   configured, even if no `signedBy` requirement needs it.
 * - A URI without `://` is a file path (`file://` is put in front of it); `kbs` and `kbs+…` are
 *   fetched from the KBS through the CDH; `file` is read from the guest file system; any other
 *   scheme is refused.
 * - No `[image]` table, or neither key: image-rs builds no validator and **allows every image**
 *   (it only logs a warning). This module reports `none`; callers must decide, and Initguard's CLI
 *   refuses it unless told otherwise. (Without `[image]`, CDH reads `agent.image_policy_file` from
 *   the kernel command line, which a measured initdata document cannot vouch for.)
 *
 * The CDH loads `cdh.toml` with the `config` crate and serde without `deny_unknown_fields`, so
 * **unknown keys are ignored** here too; a misspelt key therefore means "no policy" (see `none`).
 * Known keys with a wrong type are refused; the `config` crate would turn a number or boolean into
 * a string, which is never a meaningful policy.
 *
 * @module
 */
import { ExpectationError, MalformedInputError } from '@initguard/core'
import { isTomlTable, parseConfigToml, type TomlTable } from '@initguard/initdata'
import { kbsResourcePath } from './kbs-resource-uri.ts'

/** Where one resource (the policy or the sigstore config) comes from. */
export type CdhResourceSource =
  | {
      /** Nothing configured: image-rs then allows every image (policy) or has no lookaside (config). */
      readonly kind: 'none'
    }
  | {
      /** Given inline in `cdh.toml`: these are the exact bytes image-rs uses (UTF-8 of the string). */
      readonly kind: 'inline'
      /** The key that gave it, e.g. `image.image_security_policy`. */
      readonly field: string
      readonly bytes: Uint8Array
    }
  | {
      /**
       * A KBS resource (`kbs:///repo/type/tag`), fetched through the guest agent's attested
       * session; only returned when the caller says it can fetch them (`kbs: true`), and
       * always for the registry credentials, which only the guest ever fetches.
       */
      readonly kind: 'kbs'
      /** The key that gave it, e.g. `image.image_security_policy_uri`. */
      readonly field: string
      /** The URI as written. */
      readonly uri: string
      /** `repo/type/tag`. */
      readonly resourcePath: string
    }
  | {
      /** A file in the guest's file system, which the initdata digest does not cover. */
      readonly kind: 'file'
      /** The key that gave it, e.g. `image.image_security_policy_uri`. */
      readonly field: string
      /** The URI as written. */
      readonly uri: string
      /**
       * The path image-rs opens: the URL's path, still percent-encoded, because image-rs passes
       * `Url::path()` to the file system without decoding it.
       */
      readonly path: string
    }

/** What {@link cdhImageSources} found. */
export interface CdhImageSources {
  /** Where the image security policy (policy.json) comes from. */
  readonly policy: CdhResourceSource
  /** Where the registries.d-style lookaside config for `signedBy` comes from. */
  readonly sigstoreConfig: CdhResourceSource
  /** Whether `cdh.toml` has an `[image]` table at all. */
  readonly hasImageSection: boolean
  /**
   * Where the registry credentials (a docker `config.json`) come from:
   * `image.authenticated_registry_credentials_uri` (there is no inline form).
   */
  readonly registryCredentials: CdhResourceSource
  /** `image.max_concurrent_layer_downloads_per_image` (a positive integer), when set. */
  readonly maxConcurrentLayerDownloads: number | undefined
  /** The `[image.registry_config]` table, unread (see `cdhRegistryRules`), when set. */
  readonly registryConfig: TomlTable | undefined
  /**
   * Every key of `[image]` as written, known or not: a consumer that does not implement one of
   * them must refuse it rather than pull without it.
   */
  readonly imageKeys: readonly string[]
}

interface Resource {
  readonly area: 'POLICY' | 'SIGSTORE_CONFIG' | 'CREDENTIALS'
  readonly what: string
  readonly uriKey: string
  /** image-rs has no inline form of the registry credentials. */
  readonly inlineKey: string | undefined
  readonly inlineHint: string
}

const POLICY: Resource = {
  area: 'POLICY',
  what: 'image security policy',
  uriKey: 'image_security_policy_uri',
  inlineKey: 'image_security_policy',
  inlineHint: 'put the policy inline as image_security_policy',
}
const SIGSTORE_CONFIG: Resource = {
  area: 'SIGSTORE_CONFIG',
  what: 'sigstore (lookaside) config',
  uriKey: 'sigstore_config_uri',
  inlineKey: 'sigstore_config',
  inlineHint: 'put the registries.d-style YAML inline as sigstore_config',
}
const CREDENTIALS: Resource = {
  area: 'CREDENTIALS',
  what: 'registry credentials',
  uriKey: 'authenticated_registry_credentials_uri',
  inlineKey: undefined,
  inlineHint: 'store the docker config.json in the KBS and name it kbs:///repo/type/tag',
}

function wrongType(field: string, expected: string): MalformedInputError {
  return new MalformedInputError('ERR_CDH_CONFIG_TYPE', `cdh.toml: ${field} must be ${expected}`, {
    details: { field },
    hint: `write ${field} as a TOML ${expected}; the Confidential Data Hub refuses other types`,
  })
}

function stringField(table: TomlTable, key: string): string | undefined {
  const value = table[key]
  if (value === undefined) return undefined
  if (typeof value !== 'string') throw wrongType(`image.${key}`, 'string')
  return value
}

/** A short, safe rendering of a URI for messages (URIs name resources, not secrets, but may be long). */
function show(uri: string): string {
  return uri.length <= 120 ? JSON.stringify(uri) : `a ${uri.length}-character URI`
}

function fromUri(resource: Resource, uri: string, kbs: boolean): CdhResourceSource {
  const field = `image.${resource.uriKey}`
  const bad = (why: string, hint: string): MalformedInputError =>
    new MalformedInputError(
      `ERR_CDH_${resource.area}_URI`,
      `cdh.toml: ${field} ${show(uri)} ${why}`,
      {
        details: { field },
        hint,
      },
    )
  // image-rs: no "://" means a plain path, to which it prefixes "file://".
  const full = uri.includes('://') ? uri : `file://${uri}`
  let url: URL
  try {
    url = new URL(full)
  } catch {
    throw bad('is not a valid URI', `write file:///absolute/path, or ${resource.inlineHint}`)
  }
  const scheme = url.protocol.slice(0, -1)
  if (kbs && scheme === 'kbs') {
    return { kind: 'kbs', field, uri, resourcePath: kbsResourcePath(uri, `cdh.toml ${field}`) }
  }
  if (scheme === 'kbs' || scheme.startsWith('kbs+')) {
    throw new ExpectationError(
      `ERR_CDH_${resource.area}_NEEDS_AGENT`,
      `cdh.toml: ${field} is ${show(uri)}; the ${resource.what} is fetched from the KBS only inside the guest, by \`initguard agent pull-image\``,
      {
        details: { field, scheme },
        hint: `pull inside the guest with \`initguard agent pull-image\`; to check on the host, ${resource.inlineHint}, so the initdata digest covers it`,
      },
    )
  }
  if (scheme !== 'file') {
    throw new MalformedInputError(
      `ERR_CDH_${resource.area}_URI_SCHEME`,
      `cdh.toml: ${field} uses the scheme ${JSON.stringify(scheme.slice(0, 20))}, which image-rs does not support`,
      {
        details: { field, scheme: scheme.slice(0, 20) },
        hint: `image-rs reads only kbs:// and file:// URIs; ${resource.inlineHint}`,
      },
    )
  }
  // A bare relative path "etc/p.json" becomes "file://etc/p.json" in image-rs, whose host "etc"
  // is then dropped: it reads "/p.json". Refuse that, and any other host, rather than mimic it.
  if (url.host !== '') {
    throw bad(
      uri.includes('://')
        ? 'names a host; image-rs ignores it'
        : 'is a relative path; image-rs would read the wrong file',
      'write an absolute path, e.g. file:///etc/containers/policy.json or /etc/containers/policy.json',
    )
  }
  if (url.pathname === '/')
    throw bad(
      'names no file',
      'write the path of the file, e.g. file:///etc/containers/policy.json',
    )
  return { kind: 'file', field, uri, path: url.pathname }
}

function ambiguous(resource: Resource): ExpectationError {
  const uriField = `image.${resource.uriKey}`
  const inlineField = `image.${resource.inlineKey ?? ''}`
  return new ExpectationError(
    `ERR_CDH_${resource.area}_AMBIGUOUS`,
    `cdh.toml sets both ${inlineField} and ${uriField}; image-rs would use the URI and drop the inline ${resource.what} without a word, so Initguard refuses to guess which one the document means`,
    {
      details: { field: inlineField, fields: [inlineField, uriField] },
      hint: `keep one of ${resource.inlineKey ?? ''} and ${resource.uriKey} in cdh.toml's [image] (and launch the guest with the new document)`,
    },
  )
}

function sourceOf(image: TomlTable, resource: Resource, kbs: boolean): CdhResourceSource {
  const uri = stringField(image, resource.uriKey)
  const inline =
    resource.inlineKey === undefined ? undefined : stringField(image, resource.inlineKey)
  // image-rs: `match uri { Some(uri) => get_resource(uri), None => inline }`: the URI wins and
  // the inline value is dropped silently. The document's author may have meant either; refuse.
  if (uri !== undefined && inline !== undefined) throw ambiguous(resource)
  if (uri !== undefined) return fromUri(resource, uri, kbs)
  if (inline !== undefined) {
    return {
      kind: 'inline',
      field: `image.${resource.inlineKey ?? ''}`,
      bytes: new TextEncoder().encode(inline),
    }
  }
  return { kind: 'none' }
}

/**
 * Where image-rs would get the image security policy and the sigstore config from, given the
 * `cdh.toml` text of an initdata document (its `[data]` entry `"cdh.toml"`).
 *
 * Only `[image]` is read; other tables and unknown keys are ignored, as the CDH does, but every
 * `[image]` key is listed in `imageKeys` so that a consumer refuses what it does not implement
 * (the guest agent does). Besides the policy and the sigstore config it reports the registry
 * credentials URI, the layer download limit and the `registry_config` table. Nothing is fetched
 * or parsed: an `inline` source is returned as bytes for the caller to parse
 * (image-rs's sigstore-config struct requires `sigstore:` in each entry, not `lookaside:`).
 *
 * @throws {@link MalformedInputError} `ERR_CDH_CONFIG_TOML` (with `line`, `column`),
 *   `ERR_CDH_CONFIG_TYPE`, `ERR_CDH_POLICY_URI`, `ERR_CDH_POLICY_URI_SCHEME`,
 *   `ERR_CDH_SIGSTORE_CONFIG_URI`, `ERR_CDH_SIGSTORE_CONFIG_URI_SCHEME`, `ERR_CDH_CREDENTIALS_URI`,
 *   `ERR_CDH_CREDENTIALS_URI_SCHEME`;
 *   {@link ExpectationError} `ERR_CDH_POLICY_AMBIGUOUS`, `ERR_CDH_SIGSTORE_CONFIG_AMBIGUOUS`
 *   (both the inline key and its `_uri` are set: image-rs would drop the inline value),
 *   `ERR_CDH_POLICY_NEEDS_AGENT`, `ERR_CDH_SIGSTORE_CONFIG_NEEDS_AGENT`,
 *   `ERR_CDH_CREDENTIALS_NEEDS_AGENT` (a `kbs://` URI, which only the guest agent can fetch: it passes `kbs: true` and gets a `kbs`
 *   source; a `kbs+plugin://` URI is refused even then), and `kbsResourcePath`'s errors.
 * @example
 * ```ts
 * const { policy } = cdhImageSources(`[image]\nimage_security_policy = '{"default":[{"type":"reject"}],"transports":{}}'\n`)
 * policy.kind // 'inline'
 * ```
 */
export function cdhImageSources(
  cdhToml: string,
  options: { readonly kbs?: boolean } = {},
): CdhImageSources {
  const kbs = options.kbs === true
  const document = parseConfigToml(cdhToml, {
    code: 'ERR_CDH_CONFIG_TOML',
    what: 'cdh.toml',
    hint: 'fix the TOML; the Confidential Data Hub would refuse to start with it',
  })
  const image = document['image']
  const none = { kind: 'none' } as const
  if (image === undefined) {
    return {
      policy: none,
      sigstoreConfig: none,
      hasImageSection: false,
      registryCredentials: none,
      maxConcurrentLayerDownloads: undefined,
      registryConfig: undefined,
      imageKeys: [],
    }
  }
  if (!isTomlTable(image)) throw wrongType('image', 'table')
  const registryConfig = image['registry_config']
  if (registryConfig !== undefined && !isTomlTable(registryConfig))
    throw wrongType('image.registry_config', 'table')
  return {
    policy: sourceOf(image, POLICY, kbs),
    sigstoreConfig: sourceOf(image, SIGSTORE_CONFIG, kbs),
    hasImageSection: true,
    // Reported as a KBS source even on the host: only the guest fetches credentials, and knowing
    // where they come from does not need them.
    registryCredentials: sourceOf(image, CREDENTIALS, true),
    maxConcurrentLayerDownloads: layerDownloads(image),
    registryConfig,
    imageKeys: Object.keys(image),
  }
}

/** `max_concurrent_layer_downloads_per_image`: image-rs takes a `usize`; 0 would never pull. */
function layerDownloads(image: TomlTable): number | undefined {
  const key = 'max_concurrent_layer_downloads_per_image'
  const value = image[key]
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw wrongType(`image.${key}`, 'positive integer')
  return value
}

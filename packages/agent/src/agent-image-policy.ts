/**
 * The image policy for pulls inside the guest, as CoCo's image-rs takes it (guest-side.md §4.2),
 * but only from the verified `cdh.toml`: `[image] image_security_policy_uri` (a `kbs:///…` URI
 * fetched through the agent's attested KBS session, or a guest file) or the inline
 * `image_security_policy`, and likewise the sigstore (lookaside) config. Key files the policy
 * names as `kbs:///repo/type/tag` (`keyPath`, `keyPaths`, `caPath`, …) are fetched up front, so
 * the decision's synchronous `readKeyFile` finds them. No policy is a refusal, never "allow all".
 * How registries are reached (credentials, insecure and blocked registries, downloads at once)
 * comes from the same `[image]` (`agent-image-registry.ts`); a key it does not implement is refused.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { ExpectationError, LocalIoError, utf8ToString } from '@initguard/core'
import type { CdhResourceSource, ImagePolicy, PolicyRequirement } from '@initguard/image-policy'
import {
  guestRegistryAccess,
  refuseUnimplementedImageKeys,
  type GuestRegistryAccess,
} from './agent-image-registry.ts'
import type { AgentKbsAccess } from './kbs-access.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** Fetches the bytes of a `kbs:///repo/type/tag` URI. */
export type KbsResourceResolver = (uri: string) => Promise<Uint8Array>

/** The resolver over the agent's KBS session; without one, each call fails with the reason. */
export function kbsResourceResolver(kbs: AgentKbsAccess): KbsResourceResolver {
  return async (uri) => {
    const { kbsResourcePath } = await import('@initguard/image-policy')
    const path = kbsResourcePath(uri, 'resource URI')
    if (kbs.kind === 'unavailable') throw kbs.reason
    return kbs.session.resource(path)
  }
}

/** What {@link loadGuestImagePolicy} found. */
export interface GuestImagePolicy {
  readonly policy: ImagePolicy
  /** Where the policy came from, for messages. */
  readonly source: string
  /** The registries.d-style sigstore config, when the document gives one. */
  readonly sigstoreConfig: { readonly name: string; readonly text: string } | undefined
  /** The policy's `kbs:///…` key files, fetched, by URI. */
  readonly kbsKeys: ReadonlyMap<string, Uint8Array>
  /** A decision's `readKeyFile`: `kbs:///…` from {@link kbsKeys}, other paths from the guest's files. */
  readonly readKeyFile: (path: string) => Uint8Array
  /** How registries are reached, from the same `[image]`: never from the host. */
  readonly registry: GuestRegistryAccess
  readonly warnings: readonly string[]
}

/** Every key or certificate file a requirement names. */
function keyFiles(requirement: PolicyRequirement): string[] {
  if (requirement.type !== 'signedBy' && requirement.type !== 'sigstoreSigned') return []
  const sources = [
    requirement.keySource,
    ...(requirement.type === 'sigstoreSigned' ? [requirement.rekorPublicKeys] : []),
  ]
  return sources.flatMap((source) => {
    switch (source?.kind) {
      case 'keyPath':
        return [source.path]
      case 'keyPaths':
        return [...source.paths]
      case 'fulcio':
        return source.ca.kind === 'caPath' ? [source.ca.path] : []
      case 'pki':
        return [source.caRoots, source.caIntermediates].flatMap((c) =>
          c?.kind === 'path' ? [c.path] : [],
        )
      case 'keyData':
      case 'keyDatas':
      case undefined:
        return []
    }
  })
}

function allRequirements(policy: ImagePolicy): PolicyRequirement[] {
  return [
    ...policy.default,
    ...[...policy.transports.values()].flatMap((scopes) => [...scopes.values()].flat()),
  ]
}

/** A guest file a policy names (`file:///path` or `/path`), read now. */
function readGuestFile(path: string): Uint8Array {
  const file = path.startsWith('file://') ? new URL(path).pathname : path
  try {
    return new Uint8Array(readFileSync(file))
  } catch (cause) {
    throw new LocalIoError('ERR_AGENT_POLICY_KEY_READ', `cannot read the key file ${file}`, {
      cause,
      details: { path: file },
      hint: 'put the key in the KBS and name it kbs:///repo/type/tag, or inline it as keyData',
    })
  }
}

async function bytesOf(
  source: CdhResourceSource,
  resolve: KbsResourceResolver,
  warnings: string[],
): Promise<Uint8Array | undefined> {
  return source.kind === 'none' ? undefined : bytesOfSource(source, resolve, warnings)
}

async function bytesOfSource(
  source: Exclude<CdhResourceSource, { kind: 'none' }>,
  resolve: KbsResourceResolver,
  warnings: string[],
): Promise<Uint8Array> {
  switch (source.kind) {
    case 'inline':
      return source.bytes
    case 'kbs':
      return resolve(source.uri)
    case 'file':
      warnings.push(
        `cdh.toml ${source.field} reads ${source.path}, which the init-data digest does not cover`,
      )
      try {
        return new Uint8Array(await readFile(source.path))
      } catch (cause) {
        throw new LocalIoError(
          'ERR_AGENT_POLICY_READ',
          `cannot read ${source.path}, which cdh.toml ${source.field} names`,
          {
            cause,
            details: { path: source.path, field: source.field },
            hint: `put the file in the guest at ${source.path}, or better store it in the KBS and set ${source.field} = "kbs:///repo/type/tag"`,
          },
        )
      }
  }
}

/**
 * The image policy of the verified `cdh.toml` (see the module comment), its sigstore config and
 * its `kbs:///…` key files, fetched through `resolve`.
 *
 * @throws {@link ExpectationError} `ERR_IMAGE_POLICY_NONE` (no `cdh.toml` or no policy in it),
 *   `ERR_AGENT_IMAGE_KEY_UNSUPPORTED` (an `[image]` key the guest does not implement, checked
 *   before anything is fetched); {@link LocalIoError} `ERR_AGENT_POLICY_READ` (a `file://`
 *   source the guest cannot read); `cdhImageSources`', `parseImagePolicy`'s and
 *   `guestRegistryAccess`' errors; the KBS's errors from `resolve`.
 */
export async function loadGuestImagePolicy(options: {
  readonly initdata: VerifiedInitdata | UnboundInitdata
  readonly resolve: KbsResourceResolver
  /** Default `image-rs`: the guest reads the policy as CoCo's image-rs does. */
  readonly dialect?: 'image-rs' | 'containers-image'
}): Promise<GuestImagePolicy> {
  // Loaded only when a pull needs it: not part of the agent's start-up.
  const { cdhImageSources, parseImagePolicy } = await import('@initguard/image-policy')
  const warnings: string[] = []
  if ('unbound' in options.initdata)
    warnings.push(`the image policy comes from unverified init-data (${options.initdata.reason})`)
  const cdh = options.initdata.document.data.get('cdh.toml')
  const sources = cdh === undefined ? undefined : cdhImageSources(cdh, { kbs: true })
  if (sources !== undefined) refuseUnimplementedImageKeys(sources.imageKeys)
  if (sources === undefined || sources.policy.kind === 'none')
    throw new ExpectationError(
      'ERR_IMAGE_POLICY_NONE',
      `the verified init-data ${cdh === undefined ? 'has no cdh.toml' : "sets no image policy in cdh.toml's [image]"}`,
      {
        hint: 'set [image] image_security_policy (inline) or image_security_policy_uri = "kbs:///repo/type/tag"; image-rs would allow every image, which Initguard refuses',
      },
    )
  // The registry rules are checked before anything is fetched for the policy.
  const registry = await guestRegistryAccess(sources, async (source) => {
    const bytes = await bytesOf(source, options.resolve, warnings)
    return bytes === undefined ? undefined : { bytes, source: `cdh.toml ${source.field}` }
  })
  const policyBytes = await bytesOfSource(sources.policy, options.resolve, warnings)
  const field = sources.policy.field
  const policy = parseImagePolicy(utf8ToString(policyBytes, { field }), {
    dialect: options.dialect ?? 'image-rs',
  })
  const configBytes = await bytesOf(sources.sigstoreConfig, options.resolve, warnings)
  const configField = sources.sigstoreConfig.kind === 'none' ? '' : sources.sigstoreConfig.field
  const uris = [...new Set(allRequirements(policy).flatMap(keyFiles))].filter((p) =>
    p.startsWith('kbs:'),
  )
  const fetched = await Promise.all(
    uris.map(async (uri) => [uri, await options.resolve(uri)] as const),
  )
  const kbsKeys = new Map(fetched)
  if (sources.imageKeys.includes('work_dir'))
    warnings.push('cdh.toml image.work_dir is not used: agent pull-image unpacks into DEST')
  return {
    policy,
    source: `cdh.toml ${field}`,
    sigstoreConfig:
      configBytes === undefined
        ? undefined
        : {
            name: `cdh.toml ${configField}`,
            text: utf8ToString(configBytes, { field: configField }),
          },
    kbsKeys,
    readKeyFile: (path) => {
      if (!path.startsWith('kbs:')) return readGuestFile(path)
      const bytes = kbsKeys.get(path)
      if (bytes === undefined)
        throw new LocalIoError(
          'ERR_AGENT_POLICY_KEY_READ',
          `the key ${path} was not fetched from the KBS with the policy`,
          {
            details: { path },
            hint: 'only the keys the verified policy names are fetched; name this key in the policy (keyPath), or inline it as keyData',
          },
        )
      return Uint8Array.from(bytes)
    },
    registry,
    warnings,
  }
}

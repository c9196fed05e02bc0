/**
 * How the guest reaches registries, taken only from the verified `cdh.toml`'s `[image]` (never
 * from the host): `authenticated_registry_credentials_uri` (a docker `config.json`, usually a
 * `kbs:///…` resource), `max_concurrent_layer_downloads_per_image`, and the blocked and insecure
 * registries of `registry_config`. Any other `[image]` key (`extra_root_certificates`,
 * `image_pull_proxy`, `registry_configuration_uri`, a misspelt key, …) is refused by name: a pull
 * that silently dropped a rule of the verified document would be a pull the document did not allow.
 *
 * @module
 */
import { ExpectationError, utf8ToString } from '@initguard/core'
import type { CdhImageSources, CdhResourceSource } from '@initguard/image-policy'
import type { RegistryCredentialsLookup } from '@initguard/oci'

/** The `[image]` keys the guest pull implements; any other is refused. */
export const IMPLEMENTED_IMAGE_KEYS: readonly string[] = [
  'image_security_policy_uri',
  'image_security_policy',
  'sigstore_config_uri',
  'sigstore_config',
  'authenticated_registry_credentials_uri',
  'max_concurrent_layer_downloads_per_image',
  'registry_config',
  // Where image-rs keeps its files; `agent pull-image` unpacks into DEST (see the warning).
  'work_dir',
]

/** Layer downloads at once when the document sets none (image-rs's default). */
export const DEFAULT_LAYER_DOWNLOADS = 3
/** The most layer downloads at once the guest runs, as `image pull --concurrency` allows. */
export const MAX_LAYER_DOWNLOADS = 16

/** How the guest reaches registries, as the verified `cdh.toml` says. */
export interface GuestRegistryAccess {
  /** Registries reached over plain HTTP: only those `registry_config` marks `insecure`. */
  readonly insecureRegistries: readonly string[]
  /**
   * Credentials by registry and repository, from the document's credentials file; undefined:
   * anonymous. The repository is part of the type so that no wrapper can drop it: the file may
   * hold namespace-scoped entries (`quay.io/team`), found only with the repository.
   */
  readonly credentials: RegistryCredentialsLookup | undefined
  /** Layer downloads at once. */
  readonly concurrency: number
  /**
   * Refuses an image whose repository a `registry_config` entry blocks.
   *
   * @throws {@link ExpectationError} `ERR_AGENT_REGISTRY_BLOCKED`.
   */
  readonly checkAllowed: (reference: string) => void
}

/**
 * Refuses every `[image]` key not in {@link IMPLEMENTED_IMAGE_KEYS}, naming the first.
 *
 * @throws {@link ExpectationError} `ERR_AGENT_IMAGE_KEY_UNSUPPORTED` (exit 5).
 */
export function refuseUnimplementedImageKeys(keys: readonly string[]): void {
  const key = keys.find((k) => !IMPLEMENTED_IMAGE_KEYS.includes(k))
  if (key === undefined) return
  throw new ExpectationError(
    'ERR_AGENT_IMAGE_KEY_UNSUPPORTED',
    `the verified cdh.toml sets [image] ${JSON.stringify(key.slice(0, 80))}, which this agent does not implement; it refuses to pull rather than pull without it`,
    {
      details: { field: `image.${key.slice(0, 80)}` },
      hint: `remove ${key.slice(0, 80)} from cdh.toml's [image] (and launch the guest with the new document); the guest pull implements ${IMPLEMENTED_IMAGE_KEYS.join(', ')}`,
    },
  )
}

/**
 * The registry access the verified `cdh.toml` describes.
 *
 * @param readSource - fetches the credentials file (a `kbs:///…` resource or a guest file), called
 *   only after the rules and the download limit were accepted; its bytes and where they came from.
 * @throws {@link ExpectationError} `ERR_AGENT_IMAGE_CONCURRENCY` (more than
 *   {@link MAX_LAYER_DOWNLOADS}); `cdhRegistryRules`' and `parseDockerConfig`'s errors.
 */
export async function guestRegistryAccess(
  sources: CdhImageSources,
  readSource: (
    source: Exclude<CdhResourceSource, { kind: 'none' }>,
  ) => Promise<{ readonly bytes: Uint8Array; readonly source: string } | undefined>,
): Promise<GuestRegistryAccess> {
  const [{ blockedRegistryPrefix, cdhRegistryRules, parseDockerImageReference }, oci] =
    await Promise.all([import('@initguard/image-policy'), import('@initguard/oci')])
  const rules = cdhRegistryRules(sources.registryConfig ?? {})
  const concurrency = sources.maxConcurrentLayerDownloads ?? DEFAULT_LAYER_DOWNLOADS
  if (concurrency > MAX_LAYER_DOWNLOADS)
    throw new ExpectationError(
      'ERR_AGENT_IMAGE_CONCURRENCY',
      `the verified cdh.toml sets max_concurrent_layer_downloads_per_image = ${String(concurrency)}; this agent runs at most ${String(MAX_LAYER_DOWNLOADS)}`,
      {
        details: { field: 'image.max_concurrent_layer_downloads_per_image' },
        hint: `set it to 1–${String(MAX_LAYER_DOWNLOADS)} in cdh.toml`,
      },
    )
  const credentialsFile =
    sources.registryCredentials.kind === 'none'
      ? undefined
      : await readSource(sources.registryCredentials)
  const config =
    credentialsFile === undefined
      ? undefined
      : oci.parseDockerConfig(
          utf8ToString(credentialsFile.bytes, { field: credentialsFile.source }),
          credentialsFile.source,
        )
  return {
    insecureRegistries: rules.insecureRegistries,
    credentials: config === undefined ? undefined : oci.dockerConfigCredentials(config),
    concurrency,
    checkAllowed: (reference) => {
      const ref = parseDockerImageReference(reference)
      const prefix = blockedRegistryPrefix(rules, ref.domain, ref.path)
      if (prefix !== undefined)
        throw new ExpectationError(
          'ERR_AGENT_REGISTRY_BLOCKED',
          `the verified cdh.toml's registry_config blocks ${JSON.stringify(prefix)}, which covers ${ref.domain}/${ref.path}`,
          {
            details: { prefix, reference: ref.text },
            hint: 'pull from a registry the document allows, or launch the guest with a document that does not block it',
          },
        )
    },
  }
}

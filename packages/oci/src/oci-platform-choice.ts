/**
 * Which manifest of an image index a pull takes for a platform.
 *
 * An index may list one platform more than once with different digests. The common case is a
 * registry copy in two compressions (podman's `--add-compression zstd`, marked
 * `io.github.containers.compression.zstd`): docker, containerd and image-rs take the first
 * entry, containers/image the compression it prefers, so which manifest is pulled depends on the
 * client. That is harmless exactly when the entries are one image: when every candidate names
 * the same config blob, they share the config's DiffIDs, and the unpacker checks every layer
 * against those before anything is visible, so each candidate unpacks to the same files and runs
 * with the same configuration. Then the first is taken, as docker does, and the image policy
 * judges that manifest's signatures. Candidates with different configs are different images and
 * are refused: the index does not say which one is meant.
 */
import { ExpectationError } from '@initguard/core'
import type { Descriptor, ImageIndex, ParsedManifest, Platform } from './oci-manifest.ts'

/** The platform a pull selects when none is given. */
export const DEFAULT_PLATFORM: Platform = { os: 'linux', architecture: 'amd64' }

/** `os/architecture[/variant]`. */
export function formatPlatform(platform: Platform): string {
  return [platform.os, platform.architecture, platform.variant]
    .filter((p) => p !== undefined)
    .join('/')
}

/**
 * `platform` as containerd's `platforms.Normalize` writes it, so that the spellings registries
 * and hosts use for one platform compare equal: the OS in lower case (`macos` is `darwin`); the
 * architecture's kernel names as Go's (`x86_64`/`x86-64` are `amd64`, `aarch64` is `arm64`,
 * `i386` is `386`, `armhf` is `arm` v7 and `armel` is `arm` v6); and each architecture's default
 * variant left out or spelt one way: `arm64` `v8` (or `8`, `v8.0`) is no variant, `amd64` `v1` is
 * no variant, `arm` without a variant (or `7`) is `v7`, `arm` `5`/`6`/`8` are `v5`/`v6`/`v8`, and
 * `arm64` `9`/`9.0`/`v9.0` are `v9`.
 */
export function normalizePlatform(platform: Platform): Platform {
  const os = platform.os.toLowerCase()
  let architecture = platform.architecture.toLowerCase()
  let variant = platform.variant?.toLowerCase() ?? ''
  switch (architecture) {
    case 'i386':
      architecture = '386'
      variant = ''
      break
    case 'x86_64':
    case 'x86-64':
    case 'amd64':
      architecture = 'amd64'
      if (variant === 'v1') variant = ''
      break
    case 'aarch64':
    case 'arm64':
      architecture = 'arm64'
      if (variant === '8' || variant === 'v8' || variant === 'v8.0') variant = ''
      else if (variant === '9' || variant === '9.0' || variant === 'v9.0') variant = 'v9'
      break
    case 'armhf':
      architecture = 'arm'
      variant = 'v7'
      break
    case 'armel':
      architecture = 'arm'
      variant = 'v6'
      break
    case 'arm':
      if (variant === '' || variant === '7') variant = 'v7'
      else if (variant === '5' || variant === '6' || variant === '8') variant = `v${variant}`
      break
  }
  return {
    os: os === 'macos' ? 'darwin' : os,
    architecture,
    ...(variant === '' ? {} : { variant }),
  }
}

const samePlatform = (a: Platform, b: Platform): boolean =>
  a.os === b.os && a.architecture === b.architecture && a.variant === b.variant

/**
 * The entries of an index that serve `wanted`, one per digest, in index order. Both sides are
 * normalised as containerd does ({@link normalizePlatform}: `linux/aarch64` is `linux/arm64`, an
 * arm64 entry without a variant is `v8`, `linux/arm` is `linux/arm/v7`), and then they must be
 * equal: there is no fallback to another variant (containerd's matcher would take `arm/v6` for an
 * `arm/v7` host), since what is pulled should be what was asked for. Entries that point at the
 * same digest are one. More than one candidate is for the caller to settle (see
 * `chooseIndexEntry`): docker takes the first, containers/image the compression it prefers.
 *
 * @throws {@link ExpectationError} `ERR_REGISTRY_NO_PLATFORM`.
 */
export function platformCandidates(
  index: ImageIndex,
  wanted: Platform,
): readonly [Descriptor, ...Descriptor[]] {
  const target = normalizePlatform(wanted)
  const byDigest = new Map<string, Descriptor>()
  for (const m of index.manifests) {
    if (m.platform === undefined || !samePlatform(normalizePlatform(m.platform), target)) continue
    if (!byDigest.has(m.digest)) byDigest.set(m.digest, m)
  }
  const [head, ...rest] = byDigest.values()
  if (head !== undefined) return [head, ...rest]
  const offered = index.manifests
    .map((m) => (m.platform === undefined ? undefined : formatPlatform(m.platform)))
    .filter((p) => p !== undefined)
  throw new ExpectationError(
    'ERR_REGISTRY_NO_PLATFORM',
    `the image index has no manifest for ${formatPlatform(target)}`,
    {
      details: { wanted: formatPlatform(target), offered },
      hint: `choose one of the platforms the image offers: ${offered.join(', ') || '(none)'}`,
    },
  )
}

/**
 * More candidates than this for one platform are refused without fetching them: a hostile
 * index could otherwise make a pull fetch every manifest it lists.
 */
export const MAX_PLATFORM_CANDIDATES = 8

/** The chosen entry and its fetched manifest. */
export interface IndexEntryChoice<M extends { readonly manifest: ParsedManifest }> {
  readonly entry: Descriptor
  readonly fetched: M
}

/**
 * The entry of `index` a pull of `wanted` takes, with its manifest fetched by `fetchManifest` (which
 * checks the digest against the entry). One candidate is fetched alone; several are all fetched
 * and must be image manifests naming one config digest, and then the first is taken.
 *
 * @throws {@link ExpectationError} `ERR_REGISTRY_NO_PLATFORM` (from {@link platformCandidates}),
 *   `ERR_REGISTRY_PLATFORM_AMBIGUOUS` (candidates that are different images, or too many); and
 *   whatever `fetchManifest` throws.
 */
export async function chooseIndexEntry<M extends { readonly manifest: ParsedManifest }>(
  index: ImageIndex,
  wanted: Platform,
  fetchManifest: (entry: Descriptor) => Promise<M>,
): Promise<IndexEntryChoice<M>> {
  const [first, ...others] = platformCandidates(index, wanted)
  if (others.length === 0) return { entry: first, fetched: await fetchManifest(first) }
  const platform = formatPlatform(normalizePlatform(wanted))
  const digests = [first, ...others].map((c) => c.digest)
  if (digests.length > MAX_PLATFORM_CANDIDATES)
    throw ambiguous(platform, digests, `${digests.length} different manifests`, undefined)
  const chosen = await fetchManifest(first)
  const fetched = [chosen]
  for (const candidate of others) fetched.push(await fetchManifest(candidate))
  const configs = fetched.map((f) => (f.manifest.kind === 'image' ? f.manifest.config.digest : ''))
  if (configs.some((c) => c === '' || c !== configs[0]))
    throw ambiguous(
      platform,
      digests,
      `${digests.length} manifests that are different images`,
      configs.map((c) => (c === '' ? '(not an image manifest)' : c)),
    )
  return { entry: first, fetched: chosen }
}

function ambiguous(
  platform: string,
  digests: readonly string[],
  what: string,
  configs: readonly string[] | undefined,
): ExpectationError {
  return new ExpectationError(
    'ERR_REGISTRY_PLATFORM_AMBIGUOUS',
    `the image index has ${what} for ${platform}: which one a client pulls depends on the client`,
    {
      details: { wanted: platform, digests, ...(configs === undefined ? {} : { configs }) },
      hint: 'pull the platform manifest you mean by its digest (REPO@sha256:…)',
    },
  )
}

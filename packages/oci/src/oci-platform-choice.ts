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
import {
  formatPlatform,
  normalizePlatform,
  platformCandidates,
  type Descriptor,
  type ImageIndex,
  type ParsedManifest,
  type Platform,
} from './oci-manifest.ts'

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

/**
 * Pull an image into a root file system, only if the policy allows it: decide first (nothing but
 * manifests is fetched before that), then download the config and layers (each checked against
 * its digest, a few at a time), unpack the layers in order into a staging directory beside DEST
 * (each layer's uncompressed digest checked against the config's `rootfs.diff_ids`), and rename
 * the staging directory to DEST only when everything succeeded. A failure leaves no DEST behind.
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readdir, rename, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import {
  ExpectationError,
  LocalIoError,
  MalformedInputError,
  parseStrictJsonValue,
  UnavailableError,
  UsageError,
} from '@initguard/core'
import type { PolicyDecision } from '@initguard/image-policy'
import { checkImage, type CheckImageOptions, type CheckedImage } from './image-check.ts'
import { removeTree } from '@initguard/files'
import {
  DEFAULT_MAX_UNPACKED_SIZE,
  unpackLayer,
  type UnpackLayerOptions,
} from './oci-layer-unpack.ts'
import { caseVariantKey, type Descriptor } from './oci-manifest.ts'
import type { BlobProgress } from './registry-blobs.ts'
import { RegistryClient } from './registry-client.ts'

/** Thrown by {@link pullImage} when the policy refuses the image; carries the decision. */
export class ImagePolicyRejectedError extends ExpectationError {
  readonly decision: PolicyDecision

  constructor(reference: string, decision: PolicyDecision) {
    super('ERR_IMAGE_POLICY_REJECTED', `the policy refuses ${reference}: ${decision.reason}`, {
      details: { reference, scope: decision.scope.field },
      hint: 'see the decision for which requirement failed and why each signature was refused',
    })
    this.decision = decision
  }
}

/** Options of {@link pullImage}. */
export interface PullImageOptions
  extends CheckImageOptions, Pick<UnpackLayerOptions, 'maxUnpackedSize' | 'maxEntries'> {
  /** Largest total uncompressed size of all layers; default {@link DEFAULT_MAX_TOTAL_UNPACKED_SIZE}. */
  readonly maxTotalUnpackedSize?: number
  /** Layer downloads at once; default 3. */
  readonly concurrency?: number
  /** Called as layer bytes arrive. */
  readonly onProgress?: (progress: BlobProgress) => void
  /** Stops the pull (Ctrl-C): downloads end, nothing is written to DEST, staging is removed. */
  readonly signal?: AbortSignal
  /** Where blobs are kept while pulling; default a new directory under the system temp dir. */
  readonly blobDirectory?: string
}

/** What {@link pullImage} did. */
export interface PulledImage {
  readonly checked: CheckedImage
  readonly dest: string
  readonly layers: number
  readonly files: number
  /** Entries not unpacked (devices, FIFOs, …), with why. */
  readonly skipped: readonly { readonly path: string; readonly reason: string }[]
}

/** A layer DiffID as the unpacker computes it. */
const SHA256_DIGEST = /^sha256:[a-f0-9]{64}$/u

/**
 * The image config's `rootfs.diff_ids`: one uncompressed-layer digest per layer, in order. The
 * config is untrusted bytes (its digest only says the registry served what the manifest named).
 * Every DiffID must be `sha256:<64 lower-case hex>`, the only form the unpacker computes.
 * Exported for its property tests; not part of the package's API.
 *
 * @throws {@link MalformedInputError} `ERR_IMAGE_CONFIG`.
 */
export function parseDiffIds(config: Uint8Array, layers: number): string[] {
  let text: string
  try {
    // A leading BOM is kept and refused by the JSON parser, as in the manifest (`parseManifest`).
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(config)
  } catch (cause) {
    throw new MalformedInputError('ERR_IMAGE_CONFIG', 'the image config is not JSON', { cause })
  }
  // A repeated key (two `diff_ids` lists) is refused, as in the manifest (`parseManifest`).
  const parsed = parseStrictJsonValue(text, {
    what: 'the image config',
    syntaxCode: 'ERR_IMAGE_CONFIG',
  })
  refuseConfigCaseVariant(parsed, ['rootfs'], 'the image config')
  const rootfs = (parsed as { rootfs?: unknown } | null)?.rootfs
  refuseConfigCaseVariant(rootfs, ['type', 'diff_ids'], 'rootfs')
  const diffIds = (rootfs as { diff_ids?: unknown } | undefined)?.diff_ids
  if (!Array.isArray(diffIds) || !diffIds.every((d) => typeof d === 'string')) {
    throw new MalformedInputError(
      'ERR_IMAGE_CONFIG',
      'the image config has no rootfs.diff_ids list',
      {
        hint: 'the image was not built by a standard tool',
      },
    )
  }
  // The unpacker hashes every layer with sha256 and compares exactly: anything else could never
  // match, and would only be found (and echoed into the error) after every layer was downloaded.
  const bad = diffIds.findIndex((d) => !SHA256_DIGEST.test(d))
  if (bad !== -1) {
    throw new MalformedInputError(
      'ERR_IMAGE_CONFIG',
      `the image config's rootfs.diff_ids[${bad}] is not a sha256 digest in lower-case hex`,
      { details: { index: bad }, hint: 'the image was not built by a standard tool' },
    )
  }
  if (diffIds.length !== layers) {
    throw new MalformedInputError(
      'ERR_IMAGE_CONFIG',
      `the image config lists ${diffIds.length} layer digests for ${layers} layers`,
      { details: { diffIds: diffIds.length, layers } },
    )
  }
  return diffIds
}

/**
 * Refuse a key Go's encoding/json reads as one of `fields` although it is spelt otherwise
 * (`RootFS`, `Diff_IDs`): containerd and containers/image would check the layers against another
 * list than the one read here, from the same digest-pinned bytes.
 */
function refuseConfigCaseVariant(value: unknown, fields: readonly string[], where: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return
  const variant = caseVariantKey(value as Record<string, unknown>, fields)
  if (variant === undefined) return
  throw new MalformedInputError(
    'ERR_IMAGE_CONFIG',
    `${where} has the key ${JSON.stringify(variant.key.slice(0, 60))}, which Go's JSON decoder reads as "${variant.field}" and serde does not`,
    {
      details: { key: variant.key.slice(0, 60), as: variant.field },
      hint: 'the image config means different things to different runtimes: do not pull it',
    },
  )
}

/** Most layers an image may have (Docker's own limit is 127). */
export const MAX_IMAGE_LAYERS = 256
/**
 * Largest compressed layer: 2 GiB - 1, twice the default largest uncompressed layer. Layers are
 * streamed, so this bounds disk and time, not memory.
 */
export const MAX_LAYER_BLOB_SIZE: number = 2 ** 31 - 1
/** Default largest total uncompressed size of all layers: 16 GiB. */
export const DEFAULT_MAX_TOTAL_UNPACKED_SIZE: number = 16 * 1024 ** 3

/** The hint of every refusal of a DEST that is not empty. */
const NOT_EMPTY_HINT =
  'pull into a new or empty directory, one pull per DEST; nothing is ever unpacked over existing files'

/**
 * DEST must not exist (its parent must), or be an empty directory (which is replaced); a
 * symbolic link is refused rather than followed. Checked before anything is fetched; the final
 * rename checks again ({@link moveIntoPlace}).
 */
async function checkDestination(dest: string): Promise<void> {
  const destError = (code: string, message: string, hint: string): UsageError =>
    new UsageError(`ERR_PULL_DEST_${code}`, message, { details: { path: dest }, hint })
  const parent = await stat(dirname(dest)).catch(() => undefined)
  if (parent?.isDirectory() !== true) {
    throw destError(
      'PARENT',
      `the parent of ${JSON.stringify(dest)} is not a directory`,
      'create the parent directory first',
    )
  }
  const existing = await lstat(dest).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw new LocalIoError('ERR_PULL_DEST', `cannot look at ${JSON.stringify(dest)}`, {
      cause: error,
      details: { path: dest },
    })
  })
  if (existing === undefined) return
  if (existing.isSymbolicLink()) {
    throw destError(
      'SYMLINK',
      `${JSON.stringify(dest)} is a symbolic link`,
      'give the real directory; links are not followed',
    )
  }
  if (!existing.isDirectory()) {
    throw destError(
      'NOT_EMPTY',
      `${JSON.stringify(dest)} is a file`,
      'pull into a new or empty directory',
    )
  }
  if ((await readdir(dest)).length > 0) {
    throw destError('NOT_EMPTY', `${JSON.stringify(dest)} is not empty`, NOT_EMPTY_HINT)
  }
}

/** What rename(2) says when its target is a directory that is not empty, or not a directory. */
const TARGET_TAKEN = new Set(['ENOTEMPTY', 'EEXIST', 'ENOTDIR'])

/**
 * Rename the unpacked tree to DEST in one step. rename(2) replaces DEST only while it is absent or
 * an empty directory, atomically, and fails otherwise: of two pulls into the same DEST, the first
 * to finish wins and the other fails here, its tree never mixed into the winner's. (Removing the
 * empty DEST first, as this once did, left a window in which the loser failed on the rmdir with a
 * bare ENOTEMPTY or ENOENT, an internal error.)
 *
 * @throws {@link UsageError} `ERR_PULL_DEST_NOT_EMPTY` when something took DEST during the pull;
 *   {@link LocalIoError} `ERR_PULL_DEST` for any other failure of the rename.
 */
async function moveIntoPlace(staging: string, target: string): Promise<void> {
  try {
    await rename(staging, target)
  } catch (cause) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === 'string' && TARGET_TAKEN.has(code))
      throw new UsageError(
        'ERR_PULL_DEST_NOT_EMPTY',
        `${JSON.stringify(target)} was empty when this pull began, and is not any more (another pull into the same DEST finished first?): nothing of this pull was written there`,
        { cause, details: { path: target }, hint: NOT_EMPTY_HINT },
      )
    throw new LocalIoError(
      'ERR_PULL_DEST',
      `cannot move the unpacked image to ${JSON.stringify(target)}`,
      { cause, details: { path: target } },
    )
  }
}

function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new UnavailableError(
      'ERR_PULL_CANCELLED',
      'the pull was cancelled; nothing was written to DEST',
      {
        hint: 'run the pull again to finish it',
      },
    )
  }
}

function checkLayerSizes(layers: readonly Descriptor[]): void {
  if (layers.length > MAX_IMAGE_LAYERS) {
    throw new MalformedInputError(
      'ERR_IMAGE_TOO_MANY_LAYERS',
      `the image has ${layers.length} layers, more than ${MAX_IMAGE_LAYERS}`,
      {
        details: { layers: layers.length },
      },
    )
  }
  const large = layers.findIndex((layer) => layer.size > MAX_LAYER_BLOB_SIZE)
  if (large !== -1) {
    throw new MalformedInputError(
      'ERR_LAYER_TOO_LARGE',
      `layer ${large} is ${layers[large]?.size ?? 0} bytes, more than ${MAX_LAYER_BLOB_SIZE}`,
      {
        details: { layer: large },
        hint: 'split the image into smaller layers',
      },
    )
  }
}

/**
 * Check `reference` against the policy and, if it is accepted, unpack it into `dest`.
 *
 * @throws {@link ImagePolicyRejectedError} (`ERR_IMAGE_POLICY_REJECTED`, exit 5) when the policy
 *   refuses; {@link UsageError} `ERR_PULL_DEST_NOT_EMPTY` (also when DEST was filled while the
 *   pull ran, e.g. by another pull into it), `ERR_PULL_DEST_SYMLINK`,
 *   `ERR_PULL_DEST_PARENT`; `ERR_LAYER_DIFF_ID` (the unpacker's `VerificationError`);
 *   {@link MalformedInputError} `ERR_IMAGE_CONFIG`, `ERR_IMAGE_TOO_MANY_LAYERS`,
 *   `ERR_LAYER_TOO_LARGE`; and the registry client's, the unpacker's and {@link checkImage}'s errors.
 */
export async function pullImage(
  reference: string,
  dest: string,
  options: PullImageOptions,
): Promise<PulledImage> {
  const target = resolve(dest)
  await checkDestination(target)
  const client = options.client ?? new RegistryClient(options)
  const checked = await checkImage(reference, { ...options, client })
  if (!checked.decision.accepted) throw new ImagePolicyRejectedError(reference, checked.decision)

  // Only a refusal (by `reject`) is decided without the manifest.
  if (checked.imageManifest === undefined) throw new Error('accepted image without a manifest')
  const { repository, manifest } = checked.imageManifest
  if (manifest.kind !== 'image')
    throw new MalformedInputError('ERR_IMAGE_CONFIG', 'no image manifest')
  checkLayerSizes(manifest.layers)
  const config = await client.fetchBlob(repository, manifest.config, { maxSize: 4 * 1024 * 1024 })
  const diffIds = parseDiffIds(config, manifest.layers.length)

  const blobs = options.blobDirectory ?? (await mkdtemp(join(tmpdir(), 'initguard-blobs-')))
  const staging = join(
    dirname(target),
    `.${basename(target)}.partial-${randomBytes(6).toString('hex')}`,
  )
  try {
    await mkdir(staging, { recursive: false })
    const pulled = await client.pullBlobs(repository, manifest.layers, blobs, {
      concurrency: options.concurrency ?? 3,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      maxSize: MAX_LAYER_BLOB_SIZE,
      ...(options.onProgress === undefined ? {} : { onProgress: options.onProgress }),
    })
    let files = 0
    let budget = options.maxTotalUnpackedSize ?? DEFAULT_MAX_TOTAL_UNPACKED_SIZE
    const skipped: { path: string; reason: string }[] = []
    for (const [index, layer] of pulled.entries()) {
      throwIfCancelled(options.signal)
      const perLayer = options.maxUnpackedSize ?? DEFAULT_MAX_UNPACKED_SIZE
      // Streamed from the verified blob file; the DiffID is checked before anything is written.
      const result = await unpackLayer({ path: layer.path }, layer.descriptor.mediaType, staging, {
        maxUnpackedSize: Math.min(perLayer, budget),
        expectedDiffId: diffIds[index] ?? '',
        ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      budget -= result.unpackedSize
      files += result.files
      skipped.push(...result.skipped)
    }
    throwIfCancelled(options.signal)
    await moveIntoPlace(staging, target)
    return { checked, dest: target, layers: pulled.length, files, skipped }
  } finally {
    // Cleanup never throws, so it cannot hide the error that brought us here.
    await removeTree(staging)
    if (options.blobDirectory === undefined) await removeTree(blobs)
  }
}

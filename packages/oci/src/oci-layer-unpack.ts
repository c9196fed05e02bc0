/**
 * Unpack OCI image layers into a root filesystem directory, one layer per call, in order, on the
 * same destination. Whiteouts (`.wh.<name>`, `.wh..wh..opq`) remove lower-layer content.
 *
 * Streaming, in two passes over the blob, with memory bounded whatever the layer's size: the
 * blob is read in chunks and decompressed, and the tar parsed, as a stream (`oci-layer-stream.ts`);
 * only the entries' headers are kept (at most `maxEntries`). Pass 1 reads the whole layer without
 * writing: the DiffID is computed and checked against `expectedDiffId`, every header is checked
 * and the layer is simulated against the destination, so a hostile, broken or substituted layer
 * changes nothing. Pass 2 reads the blob again and writes; each header must equal pass 1's and the
 * blob must hash the same (the tar is then the same, so it is not hashed again), so a blob
 * changed in between is refused (`ERR_LAYER_CHANGED`) rather than written unchecked. `image pull` streams each layer from the blob file its download left on
 * disk, already verified against the manifest digest, rather than from the network: the digest is
 * then checked before any byte is unpacked, and a file can be read twice, which the write-nothing-
 * on-refusal property of pass 1 needs. The cost is decompressing twice; `npm run bench` keeps it
 * measured against `tar -xzf`.
 *
 * Safety: every name is normalised and checked before anything is written (absolute paths, `..`,
 * empty names, symlink loops, hardlinks to anything but an already present regular file refuse
 * the whole layer). Parent directories are resolved chroot-style, as containerd does: a symlink
 * among the parents is followed, its target read relative to the destination (an absolute target
 * starts at the destination, `..` stops there), at most 40 links per path, so a merged-/usr
 * `lib -> usr/lib` works and a link such as `up -> ../..` leads back into the destination, never
 * out of it. The final component of an entry is never followed: a symlink or file entry replaces
 * an existing link. Pass 1 simulates this against the destination plus the layer's own entries;
 * pass 2 resolves again against the disk, checks that each parent's real path lies inside the
 * destination, and creates files with `O_EXCL | O_NOFOLLOW`. Symlink *targets* are stored as is.
 * Ownership, timestamps and extended attributes are not applied.
 *
 * The layer means the same files here as to containerd's applier, or is refused: a type flag
 * containerd fails on (the contiguous file `7`, GNU `V`, `M`, `N`…) is refused, not read as a
 * file or skipped; a device, FIFO or PAX global header is not created, but what lower layers had
 * at its path is removed and its parents are made, as containerd does before it creates the node
 * (or, for a global header, nothing); a whiteout's parents are made too. A name component over
 * 255 bytes (NAME_MAX), or a path in the destination or symlink target over 4095 (PATH_MAX),
 * symlinks followed, is refused in pass 1 rather than failing half-way through pass 2.
 *
 * @module
 */
import { lstat, realpath } from 'node:fs/promises'
import { LocalIoError, MalformedInputError, VerificationError } from '@initguard/core'
import { checkPlan, planLayer, type Planned } from './oci-layer-plan.ts'
import {
  layerCompression,
  scanLayer,
  type LayerSource,
  type ScanLayerOptions,
} from './oci-layer-stream.ts'
import {
  closeFile,
  LayerWriter,
  writeAll,
  type LayerCounts,
  type OpenFile,
} from './oci-layer-write.ts'
import type { TarEvent, TarHeader } from './tar-reader.ts'

export type { LayerSource } from './oci-layer-stream.ts'

/** Default largest uncompressed layer: 1 GiB. */
export const DEFAULT_MAX_UNPACKED_SIZE: number = 1024 * 1024 * 1024

/**
 * Default most entries in one layer: 250,000 (large real layers hold tens of thousands). Their
 * headers are held between the two passes, a few hundred bytes each.
 */
export const DEFAULT_MAX_LAYER_ENTRIES = 250_000

/** Most characters of names and link targets in one layer, held with the headers: 32 Mi. */
const MAX_LAYER_NAME_CHARACTERS = 32 * 1024 * 1024

/** Options for {@link unpackLayer}. */
export interface UnpackLayerOptions {
  /** Largest uncompressed tar size in bytes; default {@link DEFAULT_MAX_UNPACKED_SIZE}. */
  readonly maxUnpackedSize?: number
  /** Most tar entries; default {@link DEFAULT_MAX_LAYER_ENTRIES}. */
  readonly maxEntries?: number
  /**
   * The DiffID the layer must have (`sha256:<hex>`, from the image config); checked before
   * anything is written.
   */
  readonly expectedDiffId?: string
  /** Stops unpacking between chunks (`ERR_LAYER_CANCELLED`). */
  readonly signal?: AbortSignal
}

/** What {@link unpackLayer} did. */
export interface UnpackLayerResult extends LayerCounts {
  /**
   * `sha256:<hex>` of the uncompressed tar: the layer's DiffID, which the image config lists in
   * `rootfs.diff_ids`.
   */
  readonly diffId: string
  /** Bytes of the uncompressed tar. */
  readonly unpackedSize: number
}

function changed(why: string): VerificationError {
  return new VerificationError(
    'ERR_LAYER_CHANGED',
    `the layer blob changed between the check and the write: ${why}`,
    {
      hint: 'discard the destination directory; something else writes to the blob file',
    },
  )
}

const sameHeader = (a: TarHeader, b: TarHeader): boolean =>
  a.name === b.name &&
  a.type === b.type &&
  a.typeFlag === b.typeFlag &&
  a.mode === b.mode &&
  a.linkName === b.linkName &&
  a.size === b.size &&
  a.offset === b.offset

/** Pass 1: every header of the layer, with the limits on their number applied. */
async function readHeaders(
  source: LayerSource,
  compression: ReturnType<typeof layerCompression>,
  scan: ScanLayerOptions,
  maxEntries: number,
): Promise<{ headers: TarHeader[]; diffId: string; blobDigest: string; unpackedSize: number }> {
  const headers: TarHeader[] = []
  let characters = 0
  const read = await scanLayer(source, compression, scan, (event) => {
    if (event.kind !== 'entry') return undefined
    headers.push(event.entry)
    characters += event.entry.name.length + event.entry.linkName.length
    if (headers.length > maxEntries || characters > MAX_LAYER_NAME_CHARACTERS) {
      throw new MalformedInputError(
        'ERR_LAYER_TOO_MANY_ENTRIES',
        headers.length > maxEntries
          ? `layer has more than ${maxEntries} entries`
          : `layer names and link targets add up to more than ${MAX_LAYER_NAME_CHARACTERS} characters`,
        {
          details: { maxEntries, offset: event.entry.offset },
          hint: 'raise maxEntries if the image is trusted to be this large',
        },
      )
    }
    return undefined
  })
  const { diffId } = read
  if (diffId === undefined) throw new Error('bug: pass 1 read the layer without hashing the tar')
  return { headers, ...read, diffId }
}

/**
 * Unpack one layer blob into `dest` (an existing directory). Call once per layer, lowest first.
 * On a refusal found before writing (every name and link check, the limits, the DiffID, a
 * damaged blob) nothing is changed; a file-system error while writing, or a blob that changes
 * while it is read, can leave `dest` partly updated, so discard `dest` on any error.
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_*` for a hostile or broken layer (including
 *   `ERR_LAYER_TOO_LARGE`, `ERR_LAYER_TOO_MANY_ENTRIES`, `ERR_LAYER_GZIP`, `ERR_LAYER_ZSTD`,
 *   `ERR_LAYER_ENTRY_TYPE`, `ERR_LAYER_NAME_TOO_LONG`, `ERR_LAYER_PATH_TOO_LONG`),
 *   `ERR_TAR_*`; {@link VerificationError} `ERR_LAYER_DIFF_ID`, `ERR_LAYER_CHANGED`;
 *   {@link UsageError} `ERR_LAYER_MEDIA_TYPE`; {@link LocalIoError} `ERR_LAYER_DEST`,
 *   `ERR_LAYER_READ`, `ERR_LAYER_WRITE`; {@link UnavailableError} `ERR_LAYER_CANCELLED`.
 */
export async function unpackLayer(
  source: LayerSource,
  mediaType: string,
  dest: string,
  options: UnpackLayerOptions = {},
): Promise<UnpackLayerResult> {
  const compression = layerCompression(mediaType)
  let root: string
  try {
    root = await realpath(dest)
    if (!(await lstat(root)).isDirectory()) throw new Error('not a directory')
  } catch (error) {
    throw new LocalIoError(
      'ERR_LAYER_DEST',
      `layer destination ${JSON.stringify(dest)} is not a directory`,
      { cause: error, details: { path: dest } },
    )
  }
  const scan: ScanLayerOptions = {
    maxUnpackedSize: options.maxUnpackedSize ?? DEFAULT_MAX_UNPACKED_SIZE,
    ...(options.signal === undefined ? {} : { signal: options.signal }),
  }
  const checked = await readHeaders(
    source,
    compression,
    scan,
    options.maxEntries ?? DEFAULT_MAX_LAYER_ENTRIES,
  )
  const { headers, diffId } = checked
  if (options.expectedDiffId !== undefined && diffId !== options.expectedDiffId) {
    throw new VerificationError(
      'ERR_LAYER_DIFF_ID',
      `the layer unpacks to ${diffId}, but the image config says ${options.expectedDiffId}`,
      { details: { expected: options.expectedDiffId, actual: diffId } },
    )
  }
  const result: UnpackLayerResult = {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    diffId,
    unpackedSize: checked.unpackedSize,
    skipped: [],
  }
  const writer = new LayerWriter(root, result)
  const plan = planLayer(headers, result.skipped)
  await checkPlan(plan, (parts) => writer.at(parts))

  // Pass 2: read the blob again and write, in lockstep with pass 1's headers.
  const planned = new Map<TarHeader, Planned>(plan.map((item) => [item.entry, item]))
  let index = 0
  let file: OpenFile | undefined
  /** File-system errors of the write, as `ERR_LAYER_WRITE`; the stream's own errors pass. */
  const writeError = (error: unknown): LocalIoError =>
    new LocalIoError(
      'ERR_LAYER_WRITE',
      `cannot unpack layer into ${JSON.stringify(dest)}: ${String(error)}`,
      {
        cause: error,
        details: { path: dest },
        hint: 'discard the destination directory; it may be partly updated',
      },
    )
  const writing = async <T>(step: () => T | Promise<T>): Promise<T> => {
    try {
      return await step()
    } catch (error) {
      throw writeError(error)
    }
  }
  const finishFile = (): void => {
    const done = file
    file = undefined
    if (done !== undefined) closeFile(done, true)
  }
  const startEntry = async (entry: TarHeader): Promise<void> => {
    const expected = headers[index++]
    if (expected === undefined || !sameHeader(expected, entry))
      throw changed(`entry ${index - 1} differs`)
    await writing(finishFile)
    const item = planned.get(expected)
    if (item !== undefined && item.whiteout === undefined)
      file = await writing(() => writer.create(item))
  }
  // File contents are written synchronously, without a promise per chunk.
  const write = (event: TarEvent): Promise<void> | undefined => {
    if (event.kind === 'entry') return startEntry(event.entry)
    try {
      if (file !== undefined) writeAll(file, event.bytes)
    } catch (error) {
      throw writeError(error)
    }
    return undefined
  }
  try {
    // Whiteouts act on lower layers only, so they are all applied first, as pass 1 simulated.
    for (const item of plan)
      if (item.whiteout !== undefined) await writing(() => writer.whiteout(item))
    // The tar is not hashed again: the blob's digest is, and the same blob gives the same tar.
    const written = await scanLayer(source, compression, { ...scan, hashTar: false }, write)
    await writing(finishFile)
    if (index !== headers.length) throw changed(`${index} entries, not ${headers.length}`)
    if (written.blobDigest !== checked.blobDigest) throw changed('its digest differs')
    await writing(() => {
      writer.finish()
    })
  } finally {
    if (file !== undefined) closeFile(file, false)
  }
  return result
}

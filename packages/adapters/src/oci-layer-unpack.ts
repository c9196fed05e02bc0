/**
 * Unpack OCI image layers into a root filesystem directory, one layer per call, in order, on the
 * same destination. Whiteouts (`.wh.<name>`, `.wh..wh..opq`) remove lower-layer content.
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
 * @module
 */
import { createHash } from 'node:crypto'
import { constants, type Stats } from 'node:fs'
import { link, lstat, mkdir, open, readdir, realpath, rm, symlink } from 'node:fs/promises'
import { resolve, sep } from 'node:path'
import { gunzip } from 'node:zlib'
import { LocalIoError, MalformedInputError, UsageError } from '@initguard/core'
import {
  checkPlan,
  components,
  lstatOrUndefined,
  nodeAt,
  planLayer,
  resolveDirectory,
} from './oci-layer-plan.ts'
import { readTar, type TarEntry } from './tar-reader.ts'
import { decompressZstd } from './zstd-layer.ts'

/** Default largest uncompressed layer: 1 GiB. */
export const DEFAULT_MAX_UNPACKED_SIZE: number = 1024 * 1024 * 1024

const TAR_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar',
  'application/vnd.oci.image.layer.nondistributable.v1.tar',
])
const ZSTD_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar+zstd',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
])
const GZIP_TYPES = new Set([
  'application/vnd.oci.image.layer.v1.tar+gzip',
  'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  'application/vnd.docker.image.rootfs.diff.tar.gzip',
  'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
])

/** Options for {@link unpackLayer}. */
export interface UnpackLayerOptions {
  /** Largest uncompressed tar size in bytes; default {@link DEFAULT_MAX_UNPACKED_SIZE}. */
  readonly maxUnpackedSize?: number
}

/** What {@link unpackLayer} did. */
export interface UnpackLayerResult {
  files: number
  directories: number
  symlinks: number
  hardlinks: number
  /** Whiteout and opaque-directory markers applied. */
  whiteouts: number
  /**
   * `sha256:<hex>` of the uncompressed tar: the layer's DiffID, which the image config lists in
   * `rootfs.diff_ids`.
   */
  readonly diffId: string
  /** Bytes of the uncompressed tar. */
  readonly unpackedSize: number
  /** Entries not unpacked (devices, FIFOs, unknown types, the root entry), with why. */
  readonly skipped: { readonly path: string; readonly reason: string }[]
}

async function decompress(
  blob: Uint8Array,
  mediaType: string,
  maxSize: number,
): Promise<Uint8Array> {
  const tooLarge = (): MalformedInputError =>
    new MalformedInputError('ERR_LAYER_TOO_LARGE', `layer unpacks to more than ${maxSize} bytes`, {
      details: { maxSize },
      hint: 'raise maxUnpackedSize if the image is trusted to be this large',
    })
  if (TAR_TYPES.has(mediaType)) {
    if (blob.length > maxSize) throw tooLarge()
    return blob
  }
  if (GZIP_TYPES.has(mediaType)) {
    return new Promise((done, fail) => {
      gunzip(blob, { maxOutputLength: maxSize }, (error, result) => {
        if (error === null)
          done(new Uint8Array(result.buffer, result.byteOffset, result.byteLength))
        else if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') fail(tooLarge())
        else
          fail(
            new MalformedInputError('ERR_LAYER_GZIP', `layer is not valid gzip: ${error.message}`, {
              cause: error,
            }),
          )
      })
    })
  }
  if (ZSTD_TYPES.has(mediaType)) return decompressZstd(blob, maxSize)
  throw new UsageError(
    'ERR_LAYER_MEDIA_TYPE',
    `unsupported layer media type ${JSON.stringify(mediaType)}`,
    {
      details: { mediaType },
    },
  )
}

/**
 * Unpack one layer blob into `dest` (an existing directory). Call once per layer, lowest first.
 * On a refusal found before writing (every name and link check) nothing is changed; a file-system
 * error while writing can leave `dest` partly updated, so discard `dest` on any error.
 *
 * @throws {@link MalformedInputError} `ERR_LAYER_*` for a hostile or broken layer, `ERR_TAR_*`;
 *   `ERR_LAYER_ZSTD`; {@link UsageError}
 *   `ERR_LAYER_MEDIA_TYPE`; {@link LocalIoError} `ERR_LAYER_DEST`, `ERR_LAYER_WRITE`.
 */
export async function unpackLayer(
  blob: Uint8Array,
  mediaType: string,
  dest: string,
  options: UnpackLayerOptions = {},
): Promise<UnpackLayerResult> {
  const tar = await decompress(
    blob,
    mediaType,
    options.maxUnpackedSize ?? DEFAULT_MAX_UNPACKED_SIZE,
  )
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`
  const entries = readTar(tar)
  let root: string
  try {
    root = await realpath(dest)
    if (!(await lstat(root)).isDirectory()) throw new Error('not a directory')
  } catch (error) {
    throw new LocalIoError(
      'ERR_LAYER_DEST',
      `layer destination ${JSON.stringify(dest)} is not a directory`,
      {
        cause: error,
        details: { path: dest },
      },
    )
  }
  const inside = (path: string): boolean => path === root || path.startsWith(root + sep)
  const at = (parts: readonly string[]): string => {
    const path = resolve(root, ...parts)
    if (!inside(path)) throw new Error('path outside destination')
    return path
  }
  const result: UnpackLayerResult = {
    files: 0,
    directories: 0,
    symlinks: 0,
    hardlinks: 0,
    whiteouts: 0,
    diffId,
    unpackedSize: tar.length,
    skipped: [],
  }
  const plan = planLayer(entries, result.skipped)
  await checkPlan(plan, at)

  // Pass 2: write. Parents are resolved again against the disk, chroot-style like pass 1, and the
  // real path of each final parent must be in `dest`.
  /**
   * The path of `parts` with its parents resolved (a final symlink is not followed) and, if
   * `create`, made; `undefined` if a parent is missing and not `create`.
   */
  const prepare = async (
    entry: TarEntry,
    parts: readonly string[],
    create: boolean,
  ): Promise<string | undefined> => {
    const parent = await resolveDirectory(
      entry,
      parts.slice(0, -1),
      (prefix) => nodeAt(at(prefix)),
      async (prefix) => {
        if (create) await mkdir(at(prefix), { mode: 0o755 })
        return create
      },
    )
    if (parent === undefined) return undefined
    if (!inside(await realpath(at(parent)))) throw new Error('parent outside destination')
    return at([...parent, ...parts.slice(-1)])
  }
  const place = async (entry: TarEntry, parts: readonly string[]): Promise<string> =>
    (await prepare(entry, parts, true)) ?? root
  const clear = async (path: string, keepDirectory: boolean): Promise<Stats | undefined> => {
    const info = await lstatOrUndefined(path)
    if (info !== undefined && !(keepDirectory && info.isDirectory()))
      await rm(path, { recursive: true, force: true })
    return keepDirectory && info?.isDirectory() === true ? info : undefined
  }
  const chmodDirectory = async (path: string, mode: number): Promise<void> => {
    const handle = await open(
      path,
      constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW,
    )
    await handle.chmod(mode).finally(() => handle.close())
  }
  const directoryModes = new Map<string, number>()
  try {
    for (const { entry, parts, whiteout } of plan) {
      if (whiteout === undefined) continue
      result.whiteouts++
      // An opaque marker sits inside its directory, so every component of `parts` is a parent.
      const path = await prepare(entry, whiteout === 'opaque' ? [...parts, '.'] : parts, false)
      if (path === undefined) continue
      if (whiteout === 'one') await rm(path, { recursive: true, force: true })
      else if ((await lstatOrUndefined(path))?.isDirectory() === true) {
        for (const child of await readdir(path))
          await rm(resolve(path, child), { recursive: true, force: true })
      }
    }
    for (const { entry, parts, whiteout } of plan) {
      if (whiteout !== undefined) continue
      const { type } = entry
      if (parts.length === 0) {
        result.skipped.push({
          path: entry.name,
          reason: 'root directory entry: the destination is kept as is',
        })
        continue
      }
      if (type !== 'file' && type !== 'directory' && type !== 'symlink' && type !== 'hardlink') {
        result.skipped.push({
          path: entry.name,
          reason: `${type} entries are not created (type flag ${JSON.stringify(entry.typeFlag)})`,
        })
        continue
      }
      const path = await place(entry, parts)
      // Only the 0o777 permission bits are kept. Ownership is not applied (files belong to the
      // unpacking user, possibly root), so a setuid/setgid bit would hand that user's privileges
      // to whoever runs the file; sticky is dropped with them. A rootfs to inspect or measure
      // does not need them.
      const mode = entry.mode & 0o777
      if (type === 'directory') {
        if ((await clear(path, true)) === undefined) await mkdir(path, { mode: 0o700 })
        // Owner rwx while unpacking so that read-only directories can still receive entries.
        await chmodDirectory(path, mode | 0o700)
        directoryModes.set(path, mode)
        result.directories++
      } else if (type === 'file') {
        await clear(path, false)
        const flags =
          constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
        const handle = await open(path, flags, 0o600)
        await handle
          .writeFile(entry.data)
          .then(() => handle.chmod(mode))
          .finally(() => handle.close())
        result.files++
      } else if (type === 'symlink') {
        await clear(path, false)
        await symlink(entry.linkName, path)
        result.symlinks++
      } else {
        const targetPath = await prepare(entry, components(entry, entry.linkName), false)
        if (targetPath === undefined || !(await lstat(targetPath)).isFile())
          throw new Error('hardlink target is not a regular file')
        await clear(path, false)
        await link(targetPath, path)
        result.hardlinks++
      }
    }
    // Deepest first, so that a parent losing its owner bits does not lock out its children.
    const byDepth = [...directoryModes].sort(([a], [b]) => b.length - a.length)
    for (const [path, mode] of byDepth) {
      if ((await lstatOrUndefined(path))?.isDirectory() === true) await chmodDirectory(path, mode)
    }
  } catch (error) {
    throw new LocalIoError(
      'ERR_LAYER_WRITE',
      `cannot unpack layer into ${JSON.stringify(dest)}: ${String(error)}`,
      {
        cause: error,
        details: { path: dest },
        hint: 'discard the destination directory; it may be partly updated',
      },
    )
  }
  return result
}

/**
 * Pass 2 of `oci-layer-unpack.ts`: write a planned layer into the destination. Parents are
 * resolved again against the disk, chroot-style like pass 1, and the real path of each final
 * parent must be in the destination; files are created with `O_EXCL | O_NOFOLLOW` and receive
 * their contents as they stream in. The calls are synchronous, as in `oci-layer-plan.ts`: each
 * takes microseconds, and awaiting the thread pool for every one made unpacking several times
 * slower than `tar`.
 *
 * @module
 */
import {
  closeSync,
  constants,
  fchmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeSync,
  type Stats,
} from 'node:fs'
import { resolve, sep } from 'node:path'
import {
  components,
  lstatOrUndefined,
  nodeAt,
  resolveDirectory,
  type Planned,
} from './oci-layer-plan.ts'
import type { TarHeader } from './tar-reader.ts'

/** What a layer's write did, entry by entry. */
export interface LayerCounts {
  files: number
  directories: number
  symlinks: number
  hardlinks: number
  /** Whiteout and opaque-directory markers applied. */
  whiteouts: number
  /** Entries not unpacked (devices, FIFOs, unknown types, the root entry), with why. */
  readonly skipped: { readonly path: string; readonly reason: string }[]
}

/** Writes one layer's planned entries under `root` (a real path), counting into `counts`. */
export class LayerWriter {
  readonly #root: string
  readonly #counts: LayerCounts
  readonly #directoryModes = new Map<string, number>()

  constructor(root: string, counts: LayerCounts) {
    this.#root = root
    this.#counts = counts
  }

  /** The path of `parts` under the root; throws if it would leave it. */
  at(parts: readonly string[]): string {
    const path = resolve(this.#root, ...parts)
    if (!this.#inside(path)) throw new Error('path outside destination')
    return path
  }

  #inside(path: string): boolean {
    return path === this.#root || path.startsWith(this.#root + sep)
  }

  /**
   * The path of `parts` with its parents resolved (a final symlink is not followed) and, if
   * `create`, made; `undefined` if a parent is missing and not `create`.
   */
  async #prepare(
    entry: TarHeader,
    parts: readonly string[],
    create: boolean,
  ): Promise<string | undefined> {
    const parent = await resolveDirectory(
      entry,
      parts.slice(0, -1),
      (prefix) => nodeAt(this.at(prefix)),
      (prefix) => {
        if (create) mkdirSync(this.at(prefix), { mode: 0o755 })
        return create
      },
    )
    if (parent === undefined) return undefined
    if (!this.#inside(realpathSync(this.at(parent)))) throw new Error('parent outside destination')
    return this.at([...parent, ...parts.slice(-1)])
  }

  #clear(path: string, keepDirectory: boolean): Stats | undefined {
    const info = lstatOrUndefined(path)
    if (info !== undefined && !(keepDirectory && info.isDirectory())) {
      rmSync(path, { recursive: true, force: true })
      // Directories removed with it get no mode at the end: their paths may now run through
      // whatever replaces them (a symlink out of the destination, say).
      for (const directory of this.#directoryModes.keys()) {
        if (directory === path || directory.startsWith(path + sep))
          this.#directoryModes.delete(directory)
      }
    }
    return keepDirectory && info?.isDirectory() === true ? info : undefined
  }

  #chmodDirectory(path: string, mode: number): void {
    const fd = openSync(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW)
    try {
      fchmodSync(fd, mode)
    } finally {
      closeSync(fd)
    }
  }

  /**
   * Apply a whiteout or opaque marker to what lower layers left. Missing parents are made, as
   * containerd makes them before it reads the name as a whiteout.
   */
  async whiteout({ entry, parts, whiteout }: Planned): Promise<void> {
    this.#counts.whiteouts++
    // An opaque marker sits inside its directory, so every component of `parts` is a parent.
    const path = await this.#prepare(entry, whiteout === 'opaque' ? [...parts, '.'] : parts, true)
    if (path === undefined) return
    if (whiteout === 'one') rmSync(path, { recursive: true, force: true })
    else if (lstatOrUndefined(path)?.isDirectory() === true) {
      for (const child of readdirSync(path))
        rmSync(resolve(path, child), { recursive: true, force: true })
    }
  }

  /**
   * Create one entry (not a whiteout). For a regular file, the new file, open for writing: the
   * caller writes its contents with {@link writeAll} and hands it to {@link closeFile}.
   */
  async create({ entry, parts }: Planned): Promise<OpenFile | undefined> {
    const { type } = entry
    if (parts.length === 0) {
      this.#counts.skipped.push({
        path: entry.name,
        reason: 'root directory entry: the destination is kept as is',
      })
      return undefined
    }
    const path = (await this.#prepare(entry, parts, true)) ?? this.#root
    if (type !== 'file' && type !== 'directory' && type !== 'symlink' && type !== 'hardlink') {
      // Devices and FIFOs need privileges or calls Node lacks, and a PAX global header creates
      // nothing; but containerd makes their parents and removes what lower layers had at their
      // path before it creates a node there (or, for a global header, nothing), so that is done
      // here too: a file of a lower layer must not stay where containerd has none.
      this.#clear(path, false)
      this.#counts.skipped.push({
        path: entry.name,
        reason:
          entry.typeFlag === 'g'
            ? 'PAX global header: not a file, but containerd removes what lower layers had at its path, and so was that'
            : `${type} entries are not created (type flag ${JSON.stringify(entry.typeFlag)}); what lower layers had at this path was removed, as containerd replaces it`,
      })
      return undefined
    }
    // Only the 0o777 permission bits are kept. Ownership is not applied (files belong to the
    // unpacking user, possibly root), so a setuid/setgid bit would hand that user's privileges
    // to whoever runs the file; sticky is dropped with them. A rootfs to inspect or measure
    // does not need them.
    const mode = entry.mode & 0o777
    if (type === 'directory') {
      if (this.#clear(path, true) === undefined) mkdirSync(path, { mode: 0o700 })
      // Owner rwx while unpacking so that read-only directories can still receive entries.
      this.#chmodDirectory(path, mode | 0o700)
      this.#directoryModes.set(path, mode)
      this.#counts.directories++
    } else if (type === 'file') {
      this.#clear(path, false)
      const flags = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW
      this.#counts.files++
      return { fd: openSync(path, flags, 0o600), mode }
    } else if (type === 'symlink') {
      this.#clear(path, false)
      symlinkSync(entry.linkName, path)
      this.#counts.symlinks++
    } else {
      const targetPath = await this.#prepare(entry, components(entry, entry.linkName), false)
      if (targetPath === undefined || !lstatSync(targetPath).isFile())
        throw new Error('hardlink target is not a regular file')
      this.#clear(path, false)
      linkSync(targetPath, path)
      this.#counts.hardlinks++
    }
    return undefined
  }

  /**
   * Give directories their recorded modes, once everything below them is written. A directory is
   * changed only if its recorded path is still its real path: a later entry of the layer may have
   * replaced a parent by a symlink, and following it would change a directory elsewhere, even
   * outside the destination.
   */
  finish(): void {
    // Deepest first, so that a parent losing its owner bits does not lock out its children.
    const byDepth = [...this.#directoryModes].sort(([a], [b]) => b.length - a.length)
    for (const [path, mode] of byDepth) {
      if (lstatOrUndefined(path)?.isDirectory() === true && realpathSync(path) === path)
        this.#chmodDirectory(path, mode)
    }
  }
}

/** A regular file being written: its descriptor and the mode it gets once complete. */
export interface OpenFile {
  readonly fd: number
  readonly mode: number
}

/** Write all of `bytes` to the file, at its current position. */
export function writeAll(file: OpenFile, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length;) {
    const written = writeSync(file.fd, bytes, done, bytes.length - done)
    if (written === 0) throw new Error('the file system accepted no bytes')
    done += written
  }
}

/** Give a written file its mode (if `complete`) and close it. */
export function closeFile(file: OpenFile, complete: boolean): void {
  try {
    if (complete) fchmodSync(file.fd, file.mode)
  } finally {
    closeSync(file.fd)
  }
}

/**
 * Pass 1 of `oci-layer-unpack.ts`, before anything is written: normalise and check every name,
 * split whiteouts from entries, and simulate the layer against what the destination holds so
 * that a hostile layer is refused as a whole.
 *
 * @module
 */
import { lstatSync, readlinkSync, type Stats } from 'node:fs'
import { MalformedInputError } from '@initguard/core'
import type { TarHeader } from './tar-reader.ts'

export function refuse(
  entry: TarHeader,
  code: string,
  why: string,
  hint?: string,
): MalformedInputError {
  return new MalformedInputError(
    `ERR_LAYER_${code}`,
    `layer entry ${JSON.stringify(entry.name)} (offset ${entry.offset}) ${why}; the layer is refused`,
    {
      details: { entry: entry.name, offset: entry.offset },
      ...(hint === undefined ? {} : { hint }),
    },
  )
}

/** Linux's `NAME_MAX`: most bytes in one path component. */
export const NAME_MAX = 255

/** Linux's `PATH_MAX` (4096) less its NUL: most bytes of a path or symlink target. */
export const MAX_PATH_BYTES = 4095

/** Refuse a component longer than {@link NAME_MAX} bytes, which no Linux file system holds. */
function checkComponent(entry: TarHeader, part: string, what: string): void {
  const bytes = Buffer.byteLength(part)
  if (bytes > NAME_MAX) {
    throw refuse(
      entry,
      'NAME_TOO_LONG',
      `has ${what} with a component of ${bytes} bytes, more than the ${NAME_MAX} Linux allows (NAME_MAX)`,
      'the layer cannot be unpacked on Linux (containerd fails on it too); rebuild the image with shorter names',
    )
  }
}

/**
 * Refuse `path` (in the destination) longer than {@link MAX_PATH_BYTES}: the kernel refuses it,
 * and checking first keeps the refusal before anything is written.
 */
export function checkPathLength(entry: TarHeader, path: string): void {
  const bytes = Buffer.byteLength(path)
  if (bytes > MAX_PATH_BYTES) {
    throw refuse(
      entry,
      'PATH_TOO_LONG',
      `would be unpacked at a path of ${bytes} bytes, more than the ${MAX_PATH_BYTES} Linux allows (PATH_MAX)`,
      'unpack into a destination with a shorter path, or rebuild the image with shorter paths',
    )
  }
}

/**
 * Type flags unpacked: regular files (`0`, and `\0` of old archives), links, devices, FIFOs,
 * directories, and PAX global headers, which Go's archive/tar hands over as entries. containerd
 * fails the whole layer on any other ("unhandled tar header type"), the contiguous file `7`
 * included, so such a layer is refused rather than read one way here (`7` as a file, `V` or
 * `M` skipped). Whiteouts and the root entry are exempt, as containerd acts on them before it
 * looks at the type.
 */
const UNPACKED_TYPE_FLAGS = new Set(['0', '\0', '1', '2', '3', '4', '5', '6', 'g'])

/** Split a tar name into safe relative components; `[]` is the root itself (`.` or `./`). */
export function components(entry: TarHeader, name: string): string[] {
  if (name === '') throw refuse(entry, 'EMPTY_NAME', 'has an empty name')
  if (name.startsWith('/')) throw refuse(entry, 'ABSOLUTE_PATH', 'has an absolute path')
  const parts = name.split('/').filter((part) => part !== '' && part !== '.')
  if (parts.includes('..')) throw refuse(entry, 'PARENT_PATH', 'has a ".." component')
  return parts
}

export type Kind = 'dir' | 'file' | 'symlink' | 'other' | 'none'

export function kindOf(info: Stats | undefined): Kind {
  if (info === undefined) return 'none'
  return info.isDirectory()
    ? 'dir'
    : info.isFile()
      ? 'file'
      : info.isSymbolicLink()
        ? 'symlink'
        : 'other'
}

/**
 * `lstat`, or `undefined` if nothing is there. Synchronous, as every file-system call of the
 * unpacker: each takes microseconds, and a round trip through the thread pool per call made
 * unpacking several times slower than `tar`.
 */
export function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw error
  }
}

export interface Planned {
  readonly entry: TarHeader
  readonly parts: string[]
  readonly whiteout?: 'one' | 'opaque'
}

/** Pass 1: names and whiteouts, split into planned operations. */
export function planLayer(
  entries: readonly TarHeader[],
  skipped: { path: string; reason: string }[],
): Planned[] {
  const plan: Planned[] = []
  for (const entry of entries) {
    const parts = components(entry, entry.name)
    for (const part of parts) checkComponent(entry, part, 'a name')
    const base = parts.at(-1) ?? ''
    if (!base.startsWith('.wh.')) {
      if (parts.length > 0 && !UNPACKED_TYPE_FLAGS.has(entry.typeFlag)) {
        throw refuse(
          entry,
          'ENTRY_TYPE',
          `has type flag ${JSON.stringify(entry.typeFlag)}, which containerd does not unpack (it fails the whole layer)`,
          'rebuild the image with regular files, directories and links only',
        )
      }
      if (entry.type === 'symlink' && Buffer.byteLength(entry.linkName) > MAX_PATH_BYTES) {
        throw refuse(
          entry,
          'PATH_TOO_LONG',
          `is a symlink to a target of ${Buffer.byteLength(entry.linkName)} bytes, more than the ${MAX_PATH_BYTES} Linux allows (PATH_MAX)`,
        )
      }
      if (entry.type === 'hardlink')
        for (const part of components(entry, entry.linkName))
          checkComponent(entry, part, 'a hardlink target')
      plan.push({ entry, parts })
    } else if (base === '.wh..wh..opq')
      plan.push({ entry, parts: parts.slice(0, -1), whiteout: 'opaque' })
    else if (base.startsWith('.wh..wh.'))
      skipped.push({ path: entry.name, reason: 'AUFS metadata entry' })
    else {
      const target = base.slice(4)
      if (target === '' || target === '.' || target === '..') {
        throw refuse(entry, 'WHITEOUT', 'is a whiteout without a valid target')
      }
      plan.push({ entry, parts: [...parts.slice(0, -1), target], whiteout: 'one' })
    }
  }
  return plan
}

/** Most symlinks followed while resolving one path, as Linux's `MAXSYMLINKS`. */
export const MAX_SYMLINKS = 40

/** What a path holds: its kind and, for a symlink, the link's target. */
export interface Node {
  readonly kind: Kind
  readonly target?: string
}

const NONE: Node = { kind: 'none' }

/** The node at `path` without following a final symlink. */
export function nodeAt(path: string): Node {
  const info = lstatOrUndefined(path)
  const kind = kindOf(info)
  return kind === 'symlink' ? { kind, target: readlinkSync(path) } : { kind }
}

/**
 * Resolve the directory `parts` chroot-style, as containerd does: every component is followed if
 * it is a symlink, a link target is read relative to the root of the destination (an absolute
 * target starts again at the root) and `..` stops at the root, so the result cannot leave the
 * destination. At most {@link MAX_SYMLINKS} links are followed (`ERR_LAYER_SYMLINK_LOOP`); a
 * component that is neither a directory nor a symlink is refused (`ERR_LAYER_PARENT_NOT_DIRECTORY`).
 * A missing component is handed to `missing`, which makes it a directory (`true`) or gives up
 * (`false`, the result is then `undefined`).
 *
 * @returns the canonical components: each one a directory (or made one by `missing`).
 */
export async function resolveDirectory(
  entry: TarHeader,
  parts: readonly string[],
  lookup: (parts: readonly string[]) => Node | Promise<Node>,
  missing: (parts: readonly string[]) => boolean | Promise<boolean>,
): Promise<string[] | undefined> {
  const pending = [...parts].reverse()
  const current: string[] = []
  let links = 0
  for (let name = pending.pop(); name !== undefined; name = pending.pop()) {
    if (name === '' || name === '.') continue
    if (name === '..') {
      current.pop()
      continue
    }
    const next = [...current, name]
    const node = await lookup(next)
    if (node.kind === 'symlink') {
      if (++links > MAX_SYMLINKS) {
        throw refuse(
          entry,
          'SYMLINK_LOOP',
          `follows more than ${MAX_SYMLINKS} symlinks (a loop?) at ${JSON.stringify(next.join('/'))}`,
        )
      }
      const target = node.target ?? ''
      if (target.startsWith('/')) current.length = 0
      pending.push(...target.split('/').reverse())
      continue
    }
    if (node.kind === 'none') {
      if (!(await missing(next))) return undefined
    } else if (node.kind !== 'dir') {
      throw refuse(entry, 'PARENT_NOT_DIRECTORY', 'has a parent that is not a directory')
    }
    current.push(name)
  }
  return current
}

/**
 * Pass 1, nothing written: simulate what the layer plans against what `root` holds, resolving
 * parents as {@link resolveDirectory} does (the layer's own symlinks included), so that every
 * refusal (symlink loop, parent that is not a directory, hardlink to a missing or non-file
 * target, a path longer than the kernel takes) precedes any write.
 */
export async function checkPlan(
  plan: readonly Planned[],
  at: (parts: readonly string[]) => string,
): Promise<void> {
  const key = (parts: readonly string[]): string => parts.join('/')
  /** Lower content at and below these keys is gone (whiteout, or replaced by this layer). */
  const removed = new Set<string>()
  /** Lower content strictly below these keys is gone (opaque directory). */
  const opaque = new Set<string>()
  const disk = new Map<string, Node>()
  /** What the lower layers leave at canonical `parts`, once whiteouts so far are applied. */
  const lower = async (parts: readonly string[]): Promise<Node> => {
    for (let i = 0; i <= parts.length; i++) {
      const prefix = key(parts.slice(0, i))
      if ((i > 0 && removed.has(prefix)) || (i < parts.length && opaque.has(prefix))) return NONE
    }
    // Below anything but a lower directory (e.g. a symlink this layer replaced), nothing is lower.
    if (parts.length > 1 && (await lower(parts.slice(0, -1))).kind !== 'dir') return NONE
    let node = disk.get(key(parts))
    if (node === undefined) {
      node = nodeAt(at(parts))
      disk.set(key(parts), node)
    }
    return node
  }
  const layer = new Map<string, Node>()
  const state = async (parts: readonly string[]): Promise<Node> =>
    layer.get(key(parts)) ?? (await lower(parts))
  /**
   * `state` for resolving `entry`'s paths, with each path's length checked before it is looked
   * at: a symlink may lengthen a path past what the kernel takes, or bring a long component.
   */
  const bounded =
    (entry: TarHeader) =>
    (parts: readonly string[]): Promise<Node> => {
      checkComponent(entry, parts.at(-1) ?? '', 'a path, through symlinks,')
      checkPathLength(entry, at(parts))
      return state(parts)
    }
  const giveUp = (): Promise<boolean> => Promise.resolve(false)
  const makeDirectory = (parts: readonly string[]): Promise<boolean> => {
    layer.set(key(parts), { kind: 'dir' })
    return Promise.resolve(true)
  }
  const put = async (parts: readonly string[], node: Node): Promise<void> => {
    const name = key(parts)
    if (node.kind !== 'dir') {
      // Replacing a directory drops what this layer put below it, as pass 2's `rm` does.
      if ((await state(parts)).kind === 'dir') {
        for (const below of [...layer.keys()]) if (below.startsWith(`${name}/`)) layer.delete(below)
      }
      removed.add(name)
    }
    layer.set(name, node)
  }
  // Every path as named, before any symlink is followed: containerd joins it to its root.
  for (const { entry, parts } of plan) checkPathLength(entry, at(parts))
  // Whiteouts act on lower layers only, so they are all applied first, in order, as pass 2 does.
  // Their parents are made, as containerd makes them before it reads the name as a whiteout (an
  // opaque marker's parent is its directory).
  for (const { entry, parts, whiteout } of plan) {
    if (whiteout === 'one') {
      const parent = await resolveDirectory(
        entry,
        parts.slice(0, -1),
        bounded(entry),
        makeDirectory,
      )
      if (parent !== undefined) {
        const path = [...parent, ...parts.slice(-1)]
        checkPathLength(entry, at(path))
        removed.add(key(path))
      }
    } else if (whiteout === 'opaque') {
      const directory = await resolveDirectory(entry, parts, bounded(entry), makeDirectory)
      if (directory !== undefined) opaque.add(key(directory))
    }
  }
  for (const { entry, parts, whiteout } of plan) {
    if (whiteout !== undefined || parts.length === 0) continue
    const { type } = entry
    const parent = await resolveDirectory(entry, parts.slice(0, -1), bounded(entry), makeDirectory)
    if (parent === undefined) continue
    const path = [...parent, ...parts.slice(-1)]
    checkPathLength(entry, at(path))
    if (type === 'hardlink') {
      const target = components(entry, entry.linkName)
      if (target.length === 0) {
        throw refuse(
          entry,
          'HARDLINK_TARGET',
          'is a hardlink to something other than a regular file',
        )
      }
      const targetParent = await resolveDirectory(
        entry,
        target.slice(0, -1),
        bounded(entry),
        giveUp,
      )
      const node =
        targetParent === undefined
          ? NONE
          : await bounded(entry)([...targetParent, ...target.slice(-1)])
      if (node.kind === 'none')
        throw refuse(entry, 'HARDLINK_TARGET', 'is a hardlink to an entry not yet extracted')
      if (node.kind !== 'file') {
        throw refuse(
          entry,
          'HARDLINK_TARGET',
          'is a hardlink to something other than a regular file',
        )
      }
      await put(path, { kind: 'file' })
    } else if (type === 'symlink') await put(path, { kind: 'symlink', target: entry.linkName })
    else if (type === 'file' || type === 'directory')
      await put(path, { kind: type === 'file' ? 'file' : 'dir' })
    // A device, FIFO or global header is not created, but what was there is gone (see
    // `LayerWriter.create`).
    else await put(path, NONE)
  }
}

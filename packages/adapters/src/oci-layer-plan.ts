/**
 * Pass 1 of `oci-layer-unpack.ts`, before anything is written: normalise and check every name,
 * split whiteouts from entries, and simulate the layer against what the destination holds so
 * that a hostile layer is refused as a whole.
 *
 * @module
 */
import type { Stats } from 'node:fs'
import { lstat } from 'node:fs/promises'
import { MalformedInputError } from '@initguard/core'
import type { TarEntry } from './tar-reader.ts'

export function refuse(entry: TarEntry, code: string, why: string): MalformedInputError {
  return new MalformedInputError(
    `ERR_LAYER_${code}`,
    `layer entry ${JSON.stringify(entry.name)} (offset ${entry.offset}) ${why}; the layer is refused`,
    { details: { entry: entry.name, offset: entry.offset } },
  )
}

/** Split a tar name into safe relative components; `[]` is the root itself (`.` or `./`). */
export function components(entry: TarEntry, name: string): string[] {
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

export async function lstatOrUndefined(path: string): Promise<Stats | undefined> {
  try {
    return await lstat(path)
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw error
  }
}

export interface Planned {
  readonly entry: TarEntry
  readonly parts: string[]
  readonly whiteout?: 'one' | 'opaque'
}

/** Pass 1: names and whiteouts, split into planned operations. */
export function planLayer(
  entries: readonly TarEntry[],
  skipped: { path: string; reason: string }[],
): Planned[] {
  const plan: Planned[] = []
  for (const entry of entries) {
    const parts = components(entry, entry.name)
    const base = parts.at(-1) ?? ''
    if (!base.startsWith('.wh.')) plan.push({ entry, parts })
    else if (base === '.wh..wh..opq')
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

/**
 * Pass 1, nothing written: simulate what the layer plans against what `root` holds, so that every
 * refusal (write through a symlink, hardlink to a missing or non-file target) precedes any write.
 */
export async function checkPlan(
  plan: readonly Planned[],
  at: (parts: readonly string[]) => string,
): Promise<void> {
  const removed = new Set<string>()
  const opaque = new Set<string>()
  for (const { parts, whiteout } of plan) {
    if (whiteout === 'one') removed.add(parts.join('/'))
    if (whiteout === 'opaque') opaque.add(parts.join('/'))
  }
  const cache = new Map<string, Kind>()
  /** What the lower layers leave at `parts` once this layer's whiteouts are applied. */
  const lower = async (parts: readonly string[]): Promise<Kind> => {
    for (let i = 1; i <= parts.length; i++) {
      const prefix = parts.slice(0, i).join('/')
      if (removed.has(prefix) || (i < parts.length && opaque.has(prefix))) return 'none'
    }
    const key = parts.join('/')
    let kind = cache.get(key)
    if (kind === undefined) {
      kind = kindOf(await lstatOrUndefined(at(parts)))
      cache.set(key, kind)
    }
    return kind
  }
  const layer = new Map<string, Kind>()
  const checkParents = async (
    entry: TarEntry,
    parts: readonly string[],
    ofWhiteout: boolean,
  ): Promise<void> => {
    let absent = false
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i)
      // `absent`: a parent is missing or replaced, so nothing below it comes from `dest`.
      const below = absent ? 'none' : await lower(prefix)
      const kind = (ofWhiteout ? undefined : layer.get(prefix.join('/'))) ?? below
      if (kind === 'symlink') {
        throw refuse(
          entry,
          'SYMLINK_PARENT',
          `passes through the symlink ${JSON.stringify(prefix.join('/'))}`,
        )
      }
      if (kind === 'file' || kind === 'other')
        throw refuse(entry, 'PARENT_NOT_DIRECTORY', 'has a parent that is not a directory')
      if (kind === 'none' || below !== 'dir') absent = true
    }
  }
  // Whiteouts act on lower layers only, so they are all applied first, against `dest` as it is.
  for (const { entry, parts, whiteout } of plan)
    if (whiteout !== undefined) await checkParents(entry, parts, true)
  for (const { entry, parts, whiteout } of plan) {
    if (whiteout !== undefined || parts.length === 0) continue
    await checkParents(entry, parts, false)
    if (entry.type === 'hardlink') {
      const target = components(entry, entry.linkName)
      const planned = layer.get(target.join('/'))
      if (target.length === 0 || (planned !== undefined && planned !== 'file')) {
        throw refuse(
          entry,
          'HARDLINK_TARGET',
          'is a hardlink to something other than a regular file',
        )
      }
      if (planned === undefined) {
        await checkParents(entry, target, false)
        if ((await lower(target)) !== 'file') {
          throw refuse(entry, 'HARDLINK_TARGET', 'is a hardlink to an entry not yet extracted')
        }
      }
      layer.set(parts.join('/'), 'file')
    } else if (entry.type === 'file' || entry.type === 'symlink')
      layer.set(parts.join('/'), entry.type)
    else if (entry.type === 'directory') layer.set(parts.join('/'), 'dir')
  }
}

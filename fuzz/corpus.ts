/**
 * Seeds from the real inputs in `testdata/vectors/` and the repository's examples and fixtures.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import type { FuzzSeed } from './engine.ts'
import type { SeedFormat } from './mutate-structured.ts'

/** The repository root. */
export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Bytes of a file under the repository root. */
export async function repoFile(path: string): Promise<Uint8Array> {
  return new Uint8Array(await readFile(`${REPO_ROOT}${path}`))
}

/** Bytes of a file under `testdata/vectors/`. */
export function vector(path: string): Promise<Uint8Array> {
  return repoFile(`testdata/vectors/${path}`)
}

/** Seeds for `entry` from files under `testdata/vectors/`. */
export async function vectorSeeds(
  entry: string,
  format: SeedFormat,
  paths: readonly string[],
): Promise<FuzzSeed[]> {
  return Promise.all(
    paths.map(async (path) => ({
      entry,
      format,
      bytes: await vector(path),
      origin: `testdata/vectors/${path}`,
    })),
  )
}

/** A seed from bytes or text made here (simulator evidence, encodings of real inputs). */
export function madeSeed(
  entry: string,
  format: SeedFormat,
  value: Uint8Array | string,
  origin: string,
): FuzzSeed {
  const bytes = typeof value === 'string' ? new TextEncoder().encode(value) : value
  return { entry, format, bytes, origin }
}

/** Text of UTF-8 bytes (lenient: a mutated input may not be UTF-8; the parser sees what comes). */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes)
}

/** JSON of bytes, or `undefined` when they are not JSON (the transport rejects those first). */
export function jsonOf(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(text(bytes)) as unknown
  } catch (error) {
    if (error instanceof SyntaxError) return undefined
    throw error
  }
}

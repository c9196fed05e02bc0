/**
 * Reading a file that may be absent (an offline store's entry), with the absent case apart from
 * the unreadable one.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { LocalIoError } from '@initguard/core'

/**
 * Read a file, or `undefined` when it does not exist.
 *
 * @throws {@link LocalIoError} `ERR_FILE_READ` when it exists but cannot be read (a directory, no
 *   permission).
 */
export async function readIfExists(path: string): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (error) {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw new LocalIoError(
      'ERR_FILE_READ',
      `cannot read ${JSON.stringify(path)}: ${(error as { code?: unknown }).code === 'EISDIR' ? 'it is a directory' : String((error as { code?: unknown }).code ?? error)}`,
      { cause: error, details: { path } },
    )
  }
}

/**
 * Images in containers/image's `dir:` layout (what `skopeo copy … dir:DIR` writes): the manifest
 * in `manifest.json` and the signatures in `signature-1`, `signature-2`, … (read until the first
 * missing number), each a simple signing blob or a `sigstore-json` attachment.
 *
 * @module
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, MalformedInputError } from '@initguard/core'
import { decodeSignatureBlob, type ImageSignature } from '@initguard/image-policy'

/** Most signatures read from one directory. */
export const MAX_DIR_SIGNATURES = 128
/** Largest manifest or signature file read. */
export const MAX_DIR_FILE_SIZE: number = 4 * 1024 * 1024

/** A `dir:` image's manifest and signatures, unverified. */
export interface DirImage {
  readonly manifest: Uint8Array
  readonly signatures: readonly ImageSignature[]
}

async function readOptional(path: string, what: string): Promise<Uint8Array | undefined> {
  try {
    const bytes = await readFile(path)
    if (bytes.length > MAX_DIR_FILE_SIZE) {
      throw new MalformedInputError(
        'ERR_DIR_IMAGE_TOO_LARGE',
        `${what} ${path} is larger than ${MAX_DIR_FILE_SIZE} bytes`,
        {
          details: { path },
        },
      )
    }
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)
  } catch (error) {
    const code = (error as { code?: unknown }).code
    if (code === 'ENOENT') return undefined
    if (error instanceof MalformedInputError) throw error
    throw new LocalIoError(
      'ERR_DIR_IMAGE_READ',
      `cannot read ${what} ${path}: ${typeof code === 'string' ? code : 'unknown error'}`,
      {
        cause: error,
        details: { path },
      },
    )
  }
}

/**
 * Read a `dir:` image.
 *
 * @throws {@link LocalIoError} `ERR_DIR_IMAGE_MANIFEST` (no manifest.json), `ERR_DIR_IMAGE_READ`;
 *   {@link MalformedInputError} `ERR_DIR_IMAGE_TOO_LARGE`, `ERR_DIR_IMAGE_TOO_MANY`, and the
 *   signature format errors of `decodeSignatureBlob`.
 */
export async function readDirImage(dir: string): Promise<DirImage> {
  const manifest = await readOptional(join(dir, 'manifest.json'), 'manifest')
  if (manifest === undefined) {
    throw new LocalIoError('ERR_DIR_IMAGE_MANIFEST', `${dir} has no manifest.json`, {
      details: { path: dir },
      hint: 'give a directory written by `skopeo copy … dir:DIR`',
    })
  }
  const signatures: ImageSignature[] = []
  for (let n = 1; ; n++) {
    const path = join(dir, `signature-${n}`)
    const blob = await readOptional(path, 'signature')
    if (blob === undefined) break
    if (n > MAX_DIR_SIGNATURES) {
      throw new MalformedInputError(
        'ERR_DIR_IMAGE_TOO_MANY',
        `${dir} has more than ${MAX_DIR_SIGNATURES} signatures`,
        {
          details: { path: dir },
        },
      )
    }
    signatures.push(decodeSignatureBlob(blob, `signature-${n}`))
  }
  return { manifest, signatures }
}

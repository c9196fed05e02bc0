/**
 * Telling the two signature formats apart in a stored blob, as containers/image's
 * `internal/signature.FromBlob` does. A blob is either a bare OpenPGP message (simple signing,
 * the historical format, recognised by its first packet header), or `0x00`, a format name, a
 * newline and the data: `atomic` (simple signing) or `sigstore-json`. Anything else is refused
 * rather than guessed at.
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { parseDirSigstoreSignature } from './dir-sigstore-signature.ts'
import type { ImageSignature } from './signature-requirements.ts'

// First bytes of an OpenPGP message that can start a signed message: compressed data (old format
// 0xA0–0xA3, new 0xC8), one-pass signature (0x90–0x92 and 0x3d as c/image lists them, new
// 0xC4), signature (0x88–0x8B, new 0xC2).
const OPENPGP_STARTS = new Set([
  0xa0, 0xa1, 0xa2, 0xa3, 0xc8, 0x90, 0x91, 0x92, 0x3d, 0xc4, 0x88, 0x89, 0x8a, 0x8b, 0xc2,
])

function fault(message: string, source: string): MalformedInputError {
  return new MalformedInputError('ERR_SIGNATURE_BLOB_FORMAT', `${source}: ${message}`, {
    details: { source },
    hint: 'the signature store holds something that is neither a simple signing nor a sigstore signature; remove it or re-sign the image',
  })
}

/**
 * Decode one stored signature (a lookaside `signature-N`, a `dir:` image's `signature-N`).
 *
 * @param source - where it was found, kept in the result for explanations.
 * @throws {@link MalformedInputError} `ERR_SIGNATURE_BLOB_FORMAT` and the sigstore file errors
 *   (`ERR_SIGSTORE_DIR_*`).
 */
export function decodeSignatureBlob(blob: Uint8Array, source: string): ImageSignature {
  const first = blob[0]
  if (first === undefined) throw fault('the signature is empty', source)
  if (OPENPGP_STARTS.has(first)) return { format: 'simpleSigning', source, blob }
  if (first !== 0) {
    throw fault(`unrecognised signature format, starting with byte 0x${first.toString(16)}`, source)
  }
  const newline = blob.indexOf(0x0a)
  if (newline === -1) throw fault('invalid signature format, missing newline', source)
  const name = blob.subarray(1, newline)
  if (name.some((byte) => byte < 0x20 || byte >= 0x7f))
    throw fault('invalid signature format name', source)
  const format = String.fromCharCode(...name)
  if (format === 'atomic')
    return { format: 'simpleSigning', source, blob: blob.subarray(newline + 1) }
  if (format === 'sigstore-json') {
    const { mimeType, ...signature } = parseDirSigstoreSignature(blob)
    return { format: 'sigstore', source, mediaType: mimeType, signature }
  }
  throw fault(`unrecognised signature format ${JSON.stringify(format.slice(0, 40))}`, source)
}

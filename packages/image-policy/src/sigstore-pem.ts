/**
 * PEM (RFC 7468) reading for sigstore key and certificate material, following Go's `encoding/pem`
 * `Decode` where containers/image relies on it, and stricter where Go is lenient in ways that
 * only hide mistakes.
 *
 * ```text
 * [anything, skipped as Go skips it]
 * -----BEGIN <LABEL>-----
 * <base64, wrapped at any width>
 * -----END <LABEL>-----
 * ```
 *
 * Like Go: a block starts at the beginning of the text or of a line; text before the first block
 * is skipped; spaces, tabs and line breaks inside the base64 are ignored; the END line may end in
 * spaces or tabs. Unlike Go: RFC 1421 headers (`Proc-Type: …`) are refused (cosign never writes
 * them), and the base64 must be canonical (no non-zero padding bits).
 *
 * @see RFC 7468 §2–§3; Go `encoding/pem.Decode`.
 * @module
 */
import { MalformedInputError, base64ToBytes, isInitguardError } from '@initguard/core'

/** One decoded PEM block. */
export interface PemBlock {
  /** The label between `BEGIN ` and `-----`, e.g. `PUBLIC KEY`. */
  readonly label: string
  /** The decoded contents. */
  readonly der: Uint8Array
  /** Offset just past the block's END line (and its line break), where Go's `rest` starts. */
  readonly end: number
}

// The BEGIN line must start the text or a line (Go looks for "\n-----BEGIN "). The END line must
// start a line, carry the same label, and may end in spaces, tabs or a CR.
const BLOCK = /-----BEGIN ([^\r\n]*?)-----[ \t\r]*\n([\s\S]*?)\n-----END \1-----[ \t\r]*(?:\n|$)/y
const BEGIN = /(?<=^|\n)-----BEGIN /g

/**
 * Find and decode the next PEM block at or after `from`, or `undefined` when the rest of the text
 * holds no BEGIN line.
 *
 * @param field - names the text in error messages (`"certificate annotation"`).
 * @throws {@link MalformedInputError} `code` when a BEGIN line is found but the block is broken
 *   (no matching END line, headers, or bad base64).
 */
export function readPemBlock(
  text: string,
  from: number,
  field: string,
  code: `ERR_${string}`,
): PemBlock | undefined {
  BEGIN.lastIndex = from
  const begin = BEGIN.exec(text)
  if (begin === null) return undefined
  BLOCK.lastIndex = begin.index
  const match = BLOCK.exec(text)
  const label = match?.[1]
  const body = match?.[2]
  if (match === null || label === undefined || body === undefined) {
    throw new MalformedInputError(code, `${field}: a PEM block has no matching END line`, {
      details: { field, offset: begin.index },
      hint: 'the PEM text was truncated or edited; copy the whole block, BEGIN to END',
    })
  }
  if (body.includes(':')) {
    // Go would read RFC 1421 headers; no sigstore producer writes them, and a key or certificate
    // with encryption headers is not something we can use anyway.
    throw new MalformedInputError(code, `${field}: PEM block "${label}" has headers`, {
      details: { field, label },
      hint: 'give the plain PEM block, without Proc-Type or other header lines',
    })
  }
  let der: Uint8Array
  try {
    der = base64ToBytes(body.replace(/[ \t\r\n]/g, ''), { field: `${field} (PEM ${label})` })
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    throw new MalformedInputError(code, `${field}: PEM block "${label}" is not valid base64`, {
      cause,
      details: { field, label },
      hint: 'the PEM text was damaged; copy it again',
    })
  }
  return { label, der, end: BLOCK.lastIndex }
}

/**
 * Every PEM block in `text`, as Go's loop of `pem.Decode` over the whitespace-trimmed text sees
 * them: text before a block is skipped, but anything after the last block other than whitespace
 * is an error.
 *
 * @throws {@link MalformedInputError} `code` for a broken block or trailing text.
 */
export function readPemBlocks(text: string, field: string, code: `ERR_${string}`): PemBlock[] {
  const blocks: PemBlock[] = []
  let at = 0
  for (;;) {
    const block = readPemBlock(text, at, field, code)
    if (block === undefined) break
    blocks.push(block)
    at = block.end
  }
  if (text.slice(at).trim() !== '') {
    throw new MalformedInputError(code, `${field}: text after the last PEM block`, {
      details: { field, offset: at },
      hint: 'remove whatever follows the last END line',
    })
  }
  return blocks
}

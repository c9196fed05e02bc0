/**
 * The packet framing of a simple-signing blob (RFC 4880 §4.2, §5.6, §11.3), checked before any
 * cryptography: which packets the message holds, in which order, and whether packets or bytes
 * follow its end. This gives each kind of refusal its own code instead of one openpgp message,
 * and bounds decompression before openpgp sees the data.
 *
 * No cryptography here: the packet headers are read by hand, and ZIP and ZLIB bodies are inflated
 * with `node:zlib` (pure computation) to see the packets inside and to bound their size.
 *
 * @module
 */
import { inflateRawSync, inflateSync } from 'node:zlib'
import { VerificationError, bytesToHex, concatBytes } from '@initguard/core'

/** OpenPGP packet tags that matter here (RFC 4880 §4.3). */
export const PacketTag = {
  publicKeyEncryptedSessionKey: 1,
  signature: 2,
  symmetricKeyEncryptedSessionKey: 3,
  onePassSignature: 4,
  compressedData: 8,
  symmetricallyEncryptedData: 9,
  literalData: 11,
  symEncryptedIntegrityProtectedData: 18,
  aeadEncryptedData: 20,
} as const

const ENCRYPTED_TAGS: ReadonlySet<number> = new Set([1, 3, 9, 18, 20])

/** The largest blob, and the largest decompressed content, accepted (containers/image reads 4 MiB). */
export const MAX_SIMPLE_SIGNING_BYTES: number = 4 * 1024 * 1024

/** One packet: its tag and its body (partial body chunks joined). */
interface Packet {
  readonly tag: number
  readonly body: Uint8Array
}

function malformed(message: string, offset: number, cause?: unknown): VerificationError {
  return new VerificationError(
    'ERR_SIMPLE_SIGNING_MALFORMED',
    `simple signing blob is not a well-formed OpenPGP message: ${message}`,
    {
      details: { offset },
      hint: 'the signature file is damaged or is not a containers-signature(5) blob; fetch it again',
      ...(cause === undefined ? {} : { cause }),
    },
  )
}

/** The packets read from some bytes, and why reading stopped early, if it did. */
interface PacketScan {
  readonly packets: readonly Packet[]
  readonly error: VerificationError | undefined
}

/** Split `bytes` into packets, stopping at the first bad header or length. */
function scanPackets(bytes: Uint8Array): PacketScan {
  const packets: Packet[] = []
  try {
    readPacketsInto(bytes, packets)
    return { packets, error: undefined }
  } catch (e) {
    return { packets, error: e as VerificationError }
  }
}

function readPacketsInto(bytes: Uint8Array, packets: Packet[]): void {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let pos = 0
  const need = (n: number): void => {
    if (pos + n > bytes.length) throw malformed('a packet runs past the end of the data', pos)
  }
  const u8 = (): number => {
    need(1)
    return view.getUint8(pos++)
  }
  const be = (n: number): number => {
    let v = 0
    for (let i = 0; i < n; i++) v = v * 256 + u8()
    return v
  }
  const take = (n: number): Uint8Array => {
    need(n)
    pos += n
    return bytes.subarray(pos - n, pos)
  }
  while (pos < bytes.length) {
    const start = pos
    const ctb = u8()
    if ((ctb & 0x80) === 0) throw malformed('a packet header lacks its high bit', start)
    if ((ctb & 0x40) === 0) {
      // Old format: tag in bits 5-2, length type in bits 1-0; type 3 runs to the end of the data.
      const lengthType = ctb & 0x03
      const body = lengthType === 3 ? take(bytes.length - pos) : take(be(1 << lengthType))
      packets.push({ tag: (ctb >> 2) & 0x0f, body })
      continue
    }
    // New format: partial body lengths (224..254) chain chunks until a definite length.
    const chunks: Uint8Array[] = []
    for (;;) {
      const first = u8()
      if (first < 192) chunks.push(take(first))
      else if (first < 224) chunks.push(take(((first - 192) << 8) + u8() + 192))
      else if (first === 255) chunks.push(take(be(4)))
      else {
        chunks.push(take(1 << (first & 0x1f)))
        continue
      }
      break
    }
    packets.push({
      tag: ctb & 0x3f,
      body: concatBytes(chunks),
    })
  }
}

/**
 * Inflate a ZIP (raw deflate) or ZLIB body, bounded. Bytes after the end of the stream are
 * ignored, as gpg and containers/image ignore them: they are not signed content, and real blobs
 * carry them (containers/image's own `corrupt.signature` fixtures end with a newline there).
 */
function inflateBounded(body: Uint8Array, zlibWrapped: boolean): Uint8Array {
  try {
    const options = { maxOutputLength: MAX_SIMPLE_SIGNING_BYTES }
    return zlibWrapped ? inflateSync(body, options) : inflateRawSync(body, options)
  } catch (e) {
    if (e instanceof RangeError) {
      throw new VerificationError(
        'ERR_SIMPLE_SIGNING_TOO_LARGE',
        `simple signing blob decompresses to more than ${MAX_SIMPLE_SIGNING_BYTES} bytes`,
        {
          details: { limit: MAX_SIMPLE_SIGNING_BYTES },
          hint: 'this is not a real image signature',
        },
      )
    }
    throw malformed('the compressed data does not decompress', 0, e)
  }
}

function trailing(what: string): VerificationError {
  return new VerificationError(
    'ERR_SIMPLE_SIGNING_TRAILING_DATA',
    `simple signing blob has data after the end of the signed message: ${what}`,
    {
      details: { found: what },
      hint: 'the signature file was altered or concatenated with other data; fetch it again',
    },
  )
}

/** The refusal of a blob that is some other OpenPGP message than a signed one. */
export function notSignedMessage(what: string): VerificationError {
  return new VerificationError(
    'ERR_SIMPLE_SIGNING_NOT_SIGNED_MESSAGE',
    `simple signing blob is not an OpenPGP signed message: it is ${what}`,
    {
      details: { found: what },
      hint: 'sign with `skopeo copy --sign-by` or `gpg --sign` (not --detach-sign, --clearsign or --encrypt)',
    },
  )
}

/** What the framing check learnt about a signed message. */
export interface SignedMessageShape {
  /** How many signatures the message carries. */
  readonly signatures: number
  /**
   * The issuer key ID (uppercase hex, unverified) of a version 3 signature packet, which GnuPG
   * before 2.1 wrote with `--force-v3-sigs` and openpgp 6 cannot verify.
   */
  readonly v3IssuerKeyId: string | undefined
}

/**
 * Check the shape of a signed message and return the signature count it holds.
 *
 * Accepted: optionally one compressed data packet that holds, or directly, either
 * `One-Pass Signature…, Literal Data, Signature…` or `Signature…, Literal Data` (RFC 4880 §11.3),
 * and nothing after it. BZIP2 content is left to openpgp's own grammar check (node has no bzip2).
 *
 * @returns the signature count and v3 issuer, or `undefined` when the content is BZIP2 (not
 *   inspected here).
 * @throws {@link VerificationError} `ERR_SIMPLE_SIGNING_MALFORMED`, `…_TRAILING_DATA`,
 *   `…_NOT_SIGNED_MESSAGE`, `…_TOO_LARGE`.
 */
export function checkSignedMessageShape(blob: Uint8Array): SignedMessageShape | undefined {
  if (blob.length > MAX_SIMPLE_SIGNING_BYTES) {
    throw new VerificationError(
      'ERR_SIMPLE_SIGNING_TOO_LARGE',
      `simple signing blob is ${blob.length} bytes, more than ${MAX_SIMPLE_SIGNING_BYTES}`,
      {
        details: { length: blob.length, limit: MAX_SIMPLE_SIGNING_BYTES },
        hint: 'this is not a real image signature',
      },
    )
  }
  if (blob.length === 0) throw malformed('it is empty', 0)
  // ASCII armor starts with '-'; containers-signature(5) blobs are binary.
  if (blob[0] === 0x2d)
    throw notSignedMessage('ASCII-armored text (dearmor it with `gpg --dearmor`)')
  const top = scanPackets(blob)
  const outer = top.packets[0]
  if (outer?.tag !== PacketTag.compressedData) return shapeOf(top)
  if (top.packets.length > 1 || top.error !== undefined) {
    throw trailing('data after the compressed data packet')
  }
  const data = outer.body.subarray(1)
  switch (outer.body[0] ?? -1) {
    case 0:
      return shapeOf(scanPackets(data))
    case 1:
      return shapeOf(scanPackets(inflateBounded(data, false)))
    case 2:
      return shapeOf(scanPackets(inflateBounded(data, true)))
    case 3:
      return undefined
    default:
      throw malformed(`unknown compression algorithm ${String(outer.body[0])}`, 1)
  }
}

/**
 * The signature count of a scanned message. Bytes that are not packets after a complete message
 * are trailing data; anywhere else they make the message malformed.
 */
function shapeOf(scan: PacketScan): SignedMessageShape {
  const tags = scan.packets.map((p) => p.tag)
  if (scan.error === undefined) {
    const signatures = signatureCount(tags)
    const v3 = scan.packets.find((p) => p.tag === PacketTag.signature && p.body[0] === 3)
    if (v3 === undefined) return { signatures, v3IssuerKeyId: undefined }
    // RFC 4880 §5.2.2: version, 5, type, 4-byte creation time, then the 8-byte issuer key ID.
    if (v3.body.length < 15) throw malformed('a version 3 signature packet is too short', 0)
    return { signatures, v3IssuerKeyId: bytesToHex(v3.body.subarray(7, 15)).toUpperCase() }
  }
  let complete = false
  try {
    signatureCount(tags)
    complete = true
  } catch {
    // Incomplete: the scan error says what is wrong.
  }
  throw complete ? trailing('bytes that are not OpenPGP packets') : scan.error
}

/** Match the tag sequence against the signed-message grammar; return the signature count. */
function signatureCount(tags: readonly number[]): number {
  const first = tags[0]
  if (first === undefined) throw notSignedMessage('an empty compressed packet')
  if (ENCRYPTED_TAGS.has(first)) throw notSignedMessage('an encrypted message')
  if (first === PacketTag.literalData) throw notSignedMessage('literal data without a signature')
  const leading =
    first === PacketTag.onePassSignature ? PacketTag.onePassSignature : PacketTag.signature
  let i = 0
  while (tags[i] === leading) i++
  if (i === 0) throw malformed(`unexpected packet type ${first}`, 0)
  if (tags[i] !== PacketTag.literalData) {
    throw first === PacketTag.signature && i === tags.length
      ? notSignedMessage('a detached signature (no signed data)')
      : malformed(`expected literal data after ${i} signature packet(s)`, 0)
  }
  let end = i + 1
  if (leading === PacketTag.onePassSignature) {
    // Each one-pass signature packet is matched by one signature packet after the data.
    while (end < tags.length && end - i - 1 < i && tags[end] === PacketTag.signature) end++
    if (end - i - 1 !== i) throw malformed('one-pass signatures without their signature packets', 0)
  }
  if (end !== tags.length) throw trailing(`${tags.length - end} packet(s) after the signature`)
  return i
}

/**
 * A small pure tar reader: ustar, GNU (`L`/`K` long names, base-256 sizes) and PAX (`path`,
 * `linkpath`, `size` records). It parses bytes already in memory into entries whose data are
 * views into the input; it never touches the file system and decides nothing about safety
 * (names come back exactly as the archive spells them; see `oci-layer-unpack.ts` for that).
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'

/** What kind of entry a tar header describes. */
export type TarEntryType =
  | 'file'
  | 'directory'
  | 'symlink'
  | 'hardlink'
  | 'character-device'
  | 'block-device'
  | 'fifo'
  | 'other'

/** One entry of a tar archive, after GNU and PAX extension headers were applied. */
export interface TarEntry {
  /** The entry's name as recorded (PAX `path`, GNU long name, or ustar prefix + name). */
  readonly name: string
  readonly type: TarEntryType
  /** The type flag character, useful to report `other` entries. */
  readonly typeFlag: string
  /** Permission bits as recorded (all 12 low bits, unmasked). */
  readonly mode: number
  /** Symlink or hardlink target (PAX `linkpath`, GNU long link name, or ustar linkname). */
  readonly linkName: string
  /** The entry's contents (empty for everything but files); a view into the input. */
  readonly data: Uint8Array
  /** Offset of the entry's header in the archive, for messages. */
  readonly offset: number
}

const BLOCK = 512
const utf8 = new TextDecoder('utf-8', { fatal: true })

function malformed(code: string, message: string, offset: number): MalformedInputError {
  return new MalformedInputError(`ERR_TAR_${code}`, `tar archive: ${message} at offset ${offset}`, {
    details: { offset },
  })
}

function text(bytes: Uint8Array, what: string, offset: number): string {
  try {
    return utf8.decode(bytes)
  } catch (error) {
    throw new MalformedInputError(
      'ERR_TAR_NAME_ENCODING',
      `tar archive: ${what} is not valid UTF-8 at offset ${offset}`,
      { cause: error, details: { offset, field: what } },
    )
  }
}

/** A NUL-terminated header string field. */
function field(
  header: Uint8Array,
  start: number,
  length: number,
  what: string,
  at: number,
): string {
  const slice = header.subarray(start, start + length)
  const end = slice.indexOf(0)
  return text(end === -1 ? slice : slice.subarray(0, end), what, at)
}

/** An octal number field (NUL/space padded), or GNU base-256 when the high bit is set. */
function number(
  header: Uint8Array,
  start: number,
  length: number,
  what: string,
  at: number,
): number {
  const slice = header.subarray(start, start + length)
  const first = slice[0] ?? 0
  if ((first & 0x80) !== 0) {
    if ((first & 0x40) !== 0) throw malformed('NUMBER', `negative ${what}`, at)
    let value = first & 0x3f
    for (const byte of slice.subarray(1)) {
      value = value * 256 + byte
      if (value > Number.MAX_SAFE_INTEGER) throw malformed('NUMBER', `${what} is too large`, at)
    }
    return value
  }
  const digits = String.fromCharCode(...slice)
    .replace(/[\0 ]+$/u, '')
    .replace(/^ +/u, '')
  if (digits === '') return 0
  if (!/^[0-7]+$/u.test(digits)) throw malformed('NUMBER', `${what} is not an octal number`, at)
  return Number.parseInt(digits, 8)
}

function checksumMatches(header: Uint8Array, at: number): boolean {
  const recorded = number(header, 148, 8, 'checksum', at)
  let unsigned = 0
  let signed = 0
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : (header[i] ?? 0)
    unsigned += byte
    signed += byte > 127 ? byte - 256 : byte
  }
  return recorded === unsigned || recorded === signed
}

/** PAX extended header records: `"<len> <key>=<value>\n"`, `len` counting the whole record. */
function paxRecords(data: Uint8Array, at: number): Map<string, string> {
  const records = new Map<string, string>()
  let position = 0
  while (position < data.length) {
    const space = data.indexOf(0x20, position)
    if (space === -1 || space - position > 20) throw malformed('PAX', 'bad PAX record length', at)
    const lengthText = String.fromCharCode(...data.subarray(position, space))
    if (!/^[1-9][0-9]*$/u.test(lengthText)) throw malformed('PAX', 'bad PAX record length', at)
    const end = position + Number.parseInt(lengthText, 10)
    if (end > data.length || end <= space + 1 || data[end - 1] !== 0x0a) {
      throw malformed('PAX', 'PAX record overruns its header', at)
    }
    const record = text(data.subarray(space + 1, end - 1), 'PAX record', at)
    const equals = record.indexOf('=')
    if (equals <= 0) throw malformed('PAX', 'PAX record without a key', at)
    records.set(record.slice(0, equals), record.slice(equals + 1))
    position = end
  }
  return records
}

function entryType(flag: string): TarEntryType {
  switch (flag) {
    case '0':
    case '\0':
    case '7':
      return 'file'
    case '1':
      return 'hardlink'
    case '2':
      return 'symlink'
    case '3':
      return 'character-device'
    case '4':
      return 'block-device'
    case '5':
      return 'directory'
    case '6':
      return 'fifo'
    default:
      return 'other'
  }
}

/**
 * Parse a whole tar archive. The archive must end with a zero block; data after it is ignored.
 *
 * @throws {@link MalformedInputError} `ERR_TAR_TRUNCATED`, `ERR_TAR_CHECKSUM`, `ERR_TAR_NUMBER`,
 *   `ERR_TAR_PAX`, `ERR_TAR_NAME_ENCODING`, `ERR_TAR_NAME`, `ERR_TAR_DANGLING_EXTENSION`.
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = []
  let offset = 0
  let longName: string | undefined
  let longLink: string | undefined
  let pax: Map<string, string> | undefined
  for (;;) {
    if (offset + BLOCK > archive.length)
      throw malformed('TRUNCATED', 'archive ends without an end-of-archive block', offset)
    const header = archive.subarray(offset, offset + BLOCK)
    if (header.every((byte) => byte === 0)) {
      if (longName !== undefined || longLink !== undefined || pax !== undefined) {
        throw malformed('DANGLING_EXTENSION', 'extension header not followed by an entry', offset)
      }
      return entries
    }
    if (!checksumMatches(header, offset))
      throw malformed('CHECKSUM', 'header checksum mismatch', offset)
    const flag = String.fromCharCode(header[156] ?? 0)
    const paxSize = pax?.get('size')
    let size = number(header, 124, 12, 'size', offset)
    if (paxSize !== undefined && flag !== 'x' && flag !== 'g') {
      if (!/^[0-9]{1,15}$/u.test(paxSize)) throw malformed('PAX', 'bad PAX size record', offset)
      size = Number.parseInt(paxSize, 10)
    }
    const dataStart = offset + BLOCK
    // Links, directories, devices and FIFOs carry no data, whatever their size field says.
    const type = entryType(flag)
    const hasData = type === 'file' || type === 'other'
    const dataLength = hasData ? size : 0
    if (dataLength > archive.length - dataStart)
      throw malformed('TRUNCATED', 'entry data runs past the end', offset)
    const data = archive.subarray(dataStart, dataStart + dataLength)
    const at = offset
    offset = dataStart + Math.ceil(dataLength / BLOCK) * BLOCK
    if (flag === 'L' || flag === 'K') {
      const end = data.indexOf(0)
      const value = text(end === -1 ? data : data.subarray(0, end), 'GNU long name', at)
      if (flag === 'L') longName = value
      else longLink = value
      continue
    }
    if (flag === 'x') {
      pax = paxRecords(data, at)
      continue
    }
    // A PAX global header sets defaults for later entries; none of its keys matter to us.
    if (flag === 'g') continue
    const magic = String.fromCharCode(...header.subarray(257, 263))
    const prefix = magic === 'ustar\0' ? field(header, 345, 155, 'prefix', at) : ''
    const baseName = field(header, 0, 100, 'name', at)
    const name =
      pax?.get('path') ?? longName ?? (prefix === '' ? baseName : `${prefix}/${baseName}`)
    const linkName = pax?.get('linkpath') ?? longLink ?? field(header, 157, 100, 'linkname', at)
    if (name.includes('\0') || linkName.includes('\0'))
      throw malformed('NAME', 'name contains NUL', at)
    entries.push({
      name,
      type,
      typeFlag: flag,
      mode: number(header, 100, 8, 'mode', at) & 0o7777,
      linkName,
      data: type === 'file' ? data : new Uint8Array(0),
      offset: at,
    })
    longName = undefined
    longLink = undefined
    pax = undefined
  }
}

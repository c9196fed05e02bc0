/**
 * A small pure streaming tar reader: ustar, GNU (`L`/`K` long names, base-256 sizes) and PAX
 * (`path`, `linkpath`, `size` records). Bytes are pushed in chunks of any size and come back as
 * events: an entry's header, then its contents as views into the pushed chunks, so memory stays
 * bounded whatever the archive's size (one 512-byte header carried across chunks, and extension
 * headers of at most {@link MAX_TAR_EXTENSION_SIZE} bytes). It never touches the file system and
 * decides nothing about safety (names come back exactly as the archive spells them; see
 * `oci-layer-plan.ts` for that). Our own rather than `tar-stream`: it keeps every strict check
 * (checksums, octal and base-256 numbers, PAX record framing, dangling extensions, an end block
 * required) with coded errors, and being synchronous it is property-tested chunk by chunk.
 *
 * Where the readers that matter disagree on what the same bytes hold (Go's archive/tar, which
 * containerd and containers/storage use, and GNU tar), the archive is refused rather than read
 * one way, so that the layer an image's DiffID pins means one thing to every runtime and
 * scanner: a zero block followed by entries; a PAX header mixed with a GNU long name or link
 * for one entry, two of the same extension header, or a PAX global header between an extension
 * header and its entry (Go lets the GNU long name win and drops what precedes a global header;
 * GNU tar lets PAX win and keeps it; Go frames a long-name header by its own size, we would by a
 * pending PAX `size`); sparse files, old GNU (`S`) or PAX `GNU.sparse.*` (Go and GNU tar read
 * extension blocks and sparse maps that a plain reader takes for data, and rename the entry);
 * and an old-style regular file (type `\0`) named with a trailing `/` that has contents (Go
 * reads it as a directory with none, GNU tar skips its contents). Without contents such an entry
 * is a directory, as both read it. A regular or contiguous file (`0`, `7`) named with a trailing
 * `/` is refused with or without contents: Go reads a file, GNU tar a directory. The prefix is
 * joined to the name as Go joins it (155 bytes in ustar, 131 in star, none in GNU headers), and
 * refused where GNU tar would take another (see `ownName`). A PAX global header (`g`) comes back
 * as an entry of type `other` under its own name, as Go's reader hands it to containerd; one
 * that sets a name, link, size or sparse map is refused (GNU tar applies those to every later
 * entry, Go to none). An empty PAX `path`, `linkpath` or `size`, or an empty GNU long name,
 * is refused (Go keeps the header's field, GNU tar the empty value).
 *
 * What Go's archive/tar refuses is refused too, so that no layer containerd fails is unpacked:
 * a numeric field (uid, gid, mtime, device numbers, star times) that is not a number, a PAX
 * record with a NUL in its key or in a name, and a malformed PAX `uid`, `gid` or time.
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

/** One entry's header, after GNU and PAX extension headers were applied. */
export interface TarHeader {
  /** The entry's name as recorded (PAX `path`, GNU long name, or ustar prefix + name). */
  readonly name: string
  readonly type: TarEntryType
  /** The type flag character, useful to report `other` entries. */
  readonly typeFlag: string
  /** Permission bits as recorded (all 12 low bits, unmasked). */
  readonly mode: number
  /** Symlink or hardlink target (PAX `linkpath`, GNU long link name, or ustar linkname). */
  readonly linkName: string
  /** Bytes of contents that follow (0 for everything but files). */
  readonly size: number
  /** Offset of the entry's header in the archive, for messages. */
  readonly offset: number
}

/** One entry of a whole archive read by {@link readTar}, with its contents. */
export interface TarEntry extends TarHeader {
  /** The entry's contents (empty for everything but files); a view into the input. */
  readonly data: Uint8Array
}

/** What {@link TarStreamReader.push} finds: a header, or contents of the last header's file. */
export type TarEvent =
  | { readonly kind: 'entry'; readonly entry: TarHeader }
  | { readonly kind: 'data'; readonly bytes: Uint8Array }

/**
 * Largest GNU long name or PAX extended header: they are held in memory until their entry comes
 * (Go's archive/tar has the same bound).
 */
export const MAX_TAR_EXTENSION_SIZE: number = 1024 * 1024

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

/**
 * Whether Go's archive/tar reads `slice` as a number (its `parseNumeric`): base-256 when the
 * high bit is set, within 63 bits; otherwise octal between NULs and spaces, within 64 bits. Go
 * refuses the whole header otherwise, so containerd fails the layer.
 */
function goNumeric(slice: Uint8Array): boolean {
  const first = slice[0] ?? 0
  if ((first & 0x80) !== 0) {
    const invert = (first & 0x40) !== 0 ? 0xff : 0
    let value = 0n
    for (const [i, byte] of slice.entries()) {
      if (value >> 56n > 0n) return false
      value = (value << 8n) | BigInt((byte ^ invert) & (i === 0 ? 0x7f : 0xff))
    }
    return value >> 63n === 0n
  }
  let start = 0
  let end = slice.length
  while (start < end && (slice[start] === 0 || slice[start] === 0x20)) start++
  while (end > start && (slice[end - 1] === 0 || slice[end - 1] === 0x20)) end--
  if (start === end) return true
  const nul = slice.subarray(start, end).indexOf(0)
  const digits = String.fromCharCode(...slice.subarray(start, nul === -1 ? end : start + nul))
  return /^[0-7]+$/u.test(digits) && BigInt(`0o${digits}`) < 2n ** 64n
}

/**
 * A header's format as Go's archive/tar tells it (after the checksum): `star` (ustar magic and a
 * `tar\0` trailer), `ustar` (ustar or PAX), `gnu` (old GNU magic and version) or `v7`.
 */
type HeaderFormat = 'v7' | 'ustar' | 'star' | 'gnu'

function headerFormat(header: Uint8Array): HeaderFormat {
  const magic = String.fromCharCode(...header.subarray(257, 263))
  if (magic === 'ustar\0')
    return String.fromCharCode(...header.subarray(508, 512)) === 'tar\0' ? 'star' : 'ustar'
  return magic === 'ustar ' && header[263] === 0x20 && header[264] === 0 ? 'gnu' : 'v7'
}

/** Numeric fields Go's archive/tar parses in a header of `format` (offset, length, what). */
function goNumberFields(format: HeaderFormat): readonly (readonly [number, number, string])[] {
  const common = [
    [108, 8, 'uid'],
    [116, 8, 'gid'],
    [136, 12, 'mtime'],
  ] as const
  if (format === 'v7') return common
  const devices = [
    [329, 8, 'device major number'],
    [337, 8, 'device minor number'],
  ] as const
  if (format !== 'star') return [...common, ...devices]
  return [...common, ...devices, [476, 12, 'atime'], [488, 12, 'ctime']]
}

/**
 * The name a header itself records: its name field, joined to the prefix as Go's archive/tar
 * joins it. Refused where Go and GNU tar take different prefixes: a star header (ustar magic with
 * a `tar\0` trailer) whose 131-byte prefix fills its field (Go reads those 131 bytes, GNU tar
 * the 155 of a ustar prefix, running into the atime and ctime fields), and a GNU header whose
 * atime or ctime is not a number while text stands where a ustar prefix would (Go, for archives
 * of its own writers before Go 1.8, reads that text as a prefix; GNU tar never does).
 */
function ownName(header: Uint8Array, at: number): string {
  const baseName = field(header, 0, 100, 'name', at)
  const format = headerFormat(header)
  let prefix = ''
  if (format === 'ustar') prefix = field(header, 345, 155, 'prefix', at)
  else if (format === 'star') {
    if (!header.subarray(345, 476).includes(0)) {
      throw malformed(
        'PREFIX',
        "a star header's 131-byte prefix has no terminating NUL (Go's archive/tar reads 131 bytes, GNU tar 155)",
        at,
      )
    }
    prefix = field(header, 345, 131, 'prefix', at)
  } else if (format === 'gnu') {
    const times = [345, 357].every(
      (start) => header[start] === 0 || goNumeric(header.subarray(start, start + 12)),
    )
    if (!times && header[345] !== 0) {
      throw malformed(
        'PREFIX',
        "a GNU header's atime or ctime is not a number (Go's archive/tar then reads a ustar prefix there, GNU tar does not)",
        at,
      )
    }
  }
  return prefix === '' ? baseName : `${prefix}/${baseName}`
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
    const key = record.slice(0, equals)
    const value = record.slice(equals + 1)
    // Go's archive/tar refuses a NUL in a key, or in the value of a name record.
    if (key.includes('\0')) throw malformed('PAX', 'PAX record key contains NUL', at)
    if (NAME_RECORDS.has(key) && value.includes('\0'))
      throw malformed('NAME', `PAX ${JSON.stringify(key)} record contains NUL`, at)
    records.set(key, value)
    position = end
  }
  return records
}

/** PAX records whose values are names, which Go's archive/tar refuses with a NUL. */
const NAME_RECORDS = new Set(['path', 'linkpath', 'uname', 'gname'])

/** A decimal integer as Go's `strconv.ParseInt(value, 10, 64)` accepts it. */
function goInt64(value: string): boolean {
  if (!/^[+-]?[0-9]+$/u.test(value)) return false
  const number = BigInt(value)
  return number >= -(2n ** 63n) && number < 2n ** 63n
}

/** A PAX time (`seconds[.fraction]`) as Go's archive/tar accepts it. */
function goPaxTime(value: string): boolean {
  const dot = value.indexOf('.')
  const seconds = dot === -1 ? value : value.slice(0, dot)
  return goInt64(seconds) && (dot === -1 || /^[0-9]*$/u.test(value.slice(dot + 1)))
}

/**
 * Refuse PAX records whose values Go's archive/tar (so containerd) refuses, or reads otherwise
 * than GNU tar: a malformed `uid`, `gid`, `atime`, `mtime` or `ctime` fails the whole archive in
 * Go; an empty `path`, `linkpath` or `size` keeps the header's own field in Go and is the empty
 * value to GNU tar.
 */
function checkPaxValues(records: ReadonlyMap<string, string>, at: number): void {
  for (const [key, value] of records) {
    if ((key === 'path' || key === 'linkpath' || key === 'size') && value === '') {
      throw malformed(
        'PAX',
        `empty PAX ${JSON.stringify(key)} record (Go's archive/tar keeps the header's field, GNU tar takes the empty value)`,
        at,
      )
    }
    if (value === '') continue
    const valid =
      key === 'uid' || key === 'gid'
        ? goInt64(value)
        : key === 'atime' || key === 'mtime' || key === 'ctime'
          ? goPaxTime(value)
          : true
    if (!valid) throw malformed('PAX', `bad PAX ${JSON.stringify(key)} record`, at)
  }
}

/**
 * Keys of a PAX global header (`g`) that GNU tar applies to every later entry and Go's
 * archive/tar to none (it hands the global header over as an entry of its own): a name, a link
 * target, a size (which frames the later entries' contents) or a sparse map.
 */
function globalConflict(key: string): boolean {
  return key === 'path' || key === 'linkpath' || key === 'size' || key.startsWith('GNU.sparse.')
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

/** Where the reader is: what the next bytes of the archive are. */
type Phase =
  | { readonly kind: 'header' }
  /** Contents of an entry: `emit` hands them out, `extension` collects a GNU/PAX header's. */
  | {
      readonly kind: 'data'
      remaining: number
      readonly padding: number
      readonly emit: boolean
      readonly extension?: {
        readonly flag: string
        readonly bytes: Uint8Array
        readonly at: number
        /** A global header's own name, for the entry it becomes once its records are read. */
        readonly name: string
      }
    }
  | { readonly kind: 'padding'; remaining: number }
  /** After one zero block: the next block must be zero too, or the archive end there. */
  | { readonly kind: 'zero' }
  /** After the end-of-archive blocks: anything more is ignored. */
  | { readonly kind: 'done' }

/**
 * A push parser for one tar archive. Feed chunks with {@link TarStreamReader.push} (each call
 * returns a generator: consume it before pushing the next chunk), then call
 * {@link TarStreamReader.end}. Errors are thrown as soon as the bytes that break the format have
 * been pushed; a truncated archive is found by `end`.
 */
export class TarStreamReader {
  /** Bytes of the archive pushed so far, the offset of the next chunk's first byte. */
  #consumed = 0
  #phase: Phase = { kind: 'header' }
  /** A header split across chunks. */
  readonly #carry = new Uint8Array(BLOCK)
  #carried = 0
  /** Offset of the header being read or whose contents are being read, for messages. */
  #at = 0
  #longName: string | undefined
  #longLink: string | undefined
  #pax: Map<string, string> | undefined

  /** Whether the end-of-archive blocks (two zero blocks) were read. */
  get ended(): boolean {
    return this.#phase.kind === 'done'
  }

  /**
   * Parse `chunk`, the next bytes of the archive. `data` events are views into `chunk`: it must
   * not be changed until they are consumed.
   *
   * @throws {@link MalformedInputError} `ERR_TAR_CHECKSUM`, `ERR_TAR_LONE_ZERO_BLOCK`, `ERR_TAR_NUMBER`, `ERR_TAR_PAX`,
   *   `ERR_TAR_NAME_ENCODING`, `ERR_TAR_NAME`, `ERR_TAR_PREFIX`, `ERR_TAR_DANGLING_EXTENSION`,
   *   `ERR_TAR_EXTENSION_TOO_LARGE`, `ERR_TAR_EXTENSION_CONFLICT`, `ERR_TAR_GLOBAL_HEADER`,
   *   `ERR_TAR_SPARSE`.
   */
  *push(chunk: Uint8Array): Generator<TarEvent, void, undefined> {
    const base = this.#consumed
    this.#consumed += chunk.length
    let position = 0
    while (position < chunk.length) {
      const phase = this.#phase
      const available = chunk.length - position
      if (phase.kind === 'done') return
      if (phase.kind === 'padding') {
        const skip = Math.min(phase.remaining, available)
        position += skip
        phase.remaining -= skip
        if (phase.remaining === 0) this.#phase = { kind: 'header' }
      } else if (phase.kind === 'data') {
        const take = Math.min(phase.remaining, available)
        const bytes = chunk.subarray(position, position + take)
        if (phase.extension !== undefined) {
          phase.extension.bytes.set(bytes, phase.extension.bytes.length - phase.remaining)
        } else if (phase.emit && take > 0) yield { kind: 'data', bytes }
        position += take
        phase.remaining -= take
        if (phase.remaining === 0) {
          const event = this.#endOfData(phase)
          if (event !== undefined) yield event
        }
      } else if (this.#carried === 0 && available >= BLOCK) {
        this.#at = base + position
        const event = this.#header(chunk.subarray(position, position + BLOCK))
        position += BLOCK
        if (event !== undefined) yield event
      } else {
        if (this.#carried === 0) this.#at = base + position
        const take = Math.min(BLOCK - this.#carried, available)
        this.#carry.set(chunk.subarray(position, position + take), this.#carried)
        this.#carried += take
        position += take
        if (this.#carried === BLOCK) {
          this.#carried = 0
          const event = this.#header(this.#carry)
          if (event !== undefined) yield event
        }
      }
    }
  }

  /**
   * The archive has no more bytes.
   *
   * @throws {@link MalformedInputError} `ERR_TAR_TRUNCATED` unless the end-of-archive block was read.
   */
  end(): void {
    const phase = this.#phase
    // One zero block and then the end of the bytes is an end too (as Go's archive/tar reads it).
    if (phase.kind === 'done' || phase.kind === 'zero') return
    if (phase.kind === 'data' && phase.remaining > 0)
      throw malformed('TRUNCATED', 'entry data runs past the end', this.#at)
    const at = phase.kind === 'header' ? this.#at + this.#carried : this.#consumed
    throw malformed('TRUNCATED', 'archive ends without an end-of-archive block', at)
  }

  /** The contents of an entry end; a PAX global header then becomes an entry of its own. */
  #endOfData(phase: Extract<Phase, { kind: 'data' }>): TarEvent | undefined {
    this.#phase =
      phase.padding === 0 ? { kind: 'header' } : { kind: 'padding', remaining: phase.padding }
    const extension = phase.extension
    if (extension === undefined) return undefined
    const { flag, bytes, at } = extension
    if (flag === 'x' || flag === 'g') {
      const records = paxRecords(bytes, at)
      checkPaxValues(records, at)
      const keys = [...records.keys()]
      if (flag === 'g') {
        const conflict = keys.find(globalConflict)
        if (conflict !== undefined) {
          throw malformed(
            'GLOBAL_HEADER',
            `PAX global header sets ${JSON.stringify(conflict)} (GNU tar applies it to every later entry, Go's archive/tar to none)`,
            at,
          )
        }
        // Go's archive/tar hands a global header over as an entry, by its own name and with
        // no link or mode (containerd then acts on that name); GNU tar keeps its records.
        const entry: TarHeader = {
          name: extension.name,
          type: 'other',
          typeFlag: 'g',
          mode: 0,
          linkName: '',
          size: 0,
          offset: at,
        }
        return { kind: 'entry', entry }
      }
      if (keys.some((key) => key.startsWith('GNU.sparse.')))
        throw malformed('SPARSE', 'sparse file (PAX GNU.sparse records) not supported', at)
      this.#pax = records
    } else {
      const end = bytes.indexOf(0)
      const value = text(end === -1 ? bytes : bytes.subarray(0, end), 'GNU long name', at)
      // Go's archive/tar ignores an empty long name and keeps the header's field.
      if (value === '')
        throw malformed('NAME', `empty GNU long ${flag === 'L' ? 'name' : 'link'}`, at)
      if (flag === 'L') this.#longName = value
      else this.#longLink = value
    }
    return undefined
  }

  /** The name of the entry `header` describes, with the extension headers before it applied. */
  #entryName(header: Uint8Array, at: number): string {
    return this.#pax?.get('path') ?? this.#longName ?? ownName(header, at)
  }

  /** Read one header block; the entry event, if the header describes an entry. */
  #header(header: Uint8Array): TarEvent | undefined {
    const at = this.#at
    const zero = header.every((byte) => byte === 0)
    if (this.#phase.kind === 'zero') {
      // A zero block and then an entry: GNU tar and Python stop at the first zero block and never
      // see the entries after it, Go's archive/tar refuses the archive, and the layer's digest
      // covers them either way. Refused, so that no reader's choice decides what the layer holds.
      if (!zero)
        throw malformed('LONE_ZERO_BLOCK', 'a zero block followed by more entries', at - BLOCK)
      this.#phase = { kind: 'done' }
      return undefined
    }
    if (zero) {
      if (this.#longName !== undefined || this.#longLink !== undefined || this.#pax !== undefined)
        throw malformed('DANGLING_EXTENSION', 'extension header not followed by an entry', at)
      this.#phase = { kind: 'zero' }
      return undefined
    }
    if (!checksumMatches(header, at)) throw malformed('CHECKSUM', 'header checksum mismatch', at)
    for (const [start, length, what] of goNumberFields(headerFormat(header))) {
      if (!goNumeric(header.subarray(start, start + length)))
        throw malformed('NUMBER', `${what} is not a number (Go's archive/tar refuses it)`, at)
    }
    const flag = String.fromCharCode(header[156] ?? 0)
    if (flag === 'S') throw malformed('SPARSE', 'sparse file (GNU type S) not supported', at)
    const clash =
      flag === 'x' || flag === 'g'
        ? this.#pax !== undefined || this.#longName !== undefined || this.#longLink !== undefined
        : flag === 'L' || flag === 'K'
          ? this.#pax !== undefined ||
            (flag === 'L' ? this.#longName !== undefined : this.#longLink !== undefined)
          : false
    if (clash) {
      throw malformed(
        'EXTENSION_CONFLICT',
        `extension header ${JSON.stringify(flag)} after another that it conflicts with (tar readers disagree on which applies)`,
        at,
      )
    }
    const paxSize = this.#pax?.get('size')
    let size = number(header, 124, 12, 'size', at)
    if (paxSize !== undefined && flag !== 'x' && flag !== 'g') {
      if (!/^[0-9]{1,15}$/u.test(paxSize)) throw malformed('PAX', 'bad PAX size record', at)
      size = Number.parseInt(paxSize, 10)
    }
    // An old-style regular file named with a trailing slash is an old-style directory (Go and
    // GNU tar agree while it has no contents; see the module comment). A regular or contiguous
    // file (`0`, `7`) so named is a file to Go and a directory to GNU tar, contents or not.
    const slashName = this.#entryName(header, at).endsWith('/')
    if (slashName && (flag === '0' || flag === '7')) {
      throw malformed(
        'NAME',
        `a file entry (type ${JSON.stringify(flag)}) is named with a trailing "/" (Go's archive/tar reads a file, GNU tar a directory)`,
        at,
      )
    }
    const oldStyleDirectory = flag === '\0' && slashName
    if (oldStyleDirectory && size > 0) {
      throw malformed(
        'NAME',
        'an old-style file entry named with a trailing "/" has contents (tar readers disagree on whether it is a directory)',
        at,
      )
    }
    // Links, directories, devices and FIFOs carry no data, whatever their size field says.
    const type = oldStyleDirectory ? 'directory' : entryType(flag)
    const dataLength = type === 'file' || type === 'other' ? size : 0
    const padding = (BLOCK - (dataLength % BLOCK)) % BLOCK
    if (flag === 'L' || flag === 'K' || flag === 'x' || flag === 'g') {
      if (dataLength > MAX_TAR_EXTENSION_SIZE) {
        throw new MalformedInputError(
          'ERR_TAR_EXTENSION_TOO_LARGE',
          `tar archive: extension header of ${dataLength} bytes, more than ${MAX_TAR_EXTENSION_SIZE}, at offset ${at}`,
          { details: { offset: at, size: dataLength, maxSize: MAX_TAR_EXTENSION_SIZE } },
        )
      }
      const phase = {
        kind: 'data' as const,
        remaining: dataLength,
        padding,
        emit: false,
        extension: {
          flag,
          bytes: new Uint8Array(dataLength),
          at,
          name: flag === 'g' ? ownName(header, at) : '',
        },
      }
      this.#phase = phase
      return dataLength === 0 ? this.#endOfData(phase) : undefined
    }
    this.#phase = { kind: 'data', remaining: dataLength, padding, emit: type === 'file' }
    if (dataLength === 0) this.#phase = { kind: 'header' }
    const name = this.#entryName(header, at)
    const linkName =
      this.#pax?.get('linkpath') ?? this.#longLink ?? field(header, 157, 100, 'linkname', at)
    if (name.includes('\0') || linkName.includes('\0'))
      throw malformed('NAME', 'name contains NUL', at)
    this.#longName = undefined
    this.#longLink = undefined
    this.#pax = undefined
    const entry: TarHeader = {
      name,
      type,
      typeFlag: flag,
      mode: number(header, 100, 8, 'mode', at) & 0o7777,
      linkName,
      size: type === 'file' ? dataLength : 0,
      offset: at,
    }
    return { kind: 'entry', entry }
  }
}

/**
 * Parse a whole tar archive held in memory. The archive must end with two zero blocks (or one,
 * at the very end); data after them is ignored, and a zero block followed by an entry is refused.
 *
 * @throws {@link MalformedInputError} as {@link TarStreamReader.push} and
 *   {@link TarStreamReader.end}.
 */
export function readTar(archive: Uint8Array): TarEntry[] {
  const reader = new TarStreamReader()
  const entries: { header: TarHeader; data: Uint8Array[] }[] = []
  for (const event of reader.push(archive)) {
    if (event.kind === 'entry') entries.push({ header: event.entry, data: [] })
    else entries.at(-1)?.data.push(event.bytes)
  }
  reader.end()
  return entries.map(({ header, data }) => ({
    ...header,
    data: data.length <= 1 ? (data[0] ?? new Uint8Array(0)) : new Uint8Array(Buffer.concat(data)),
  }))
}

/**
 * A tiny tar writer for tests, able to write the hostile archives real tar refuses to create.
 *
 * @module
 */

/** One header (plus data) to write. */
export interface RawTarEntry {
  readonly name: string
  /** Type flag character; default `'0'` (regular file). */
  readonly type?: string
  readonly mode?: number
  readonly data?: Uint8Array | string
  readonly linkName?: string
  /** ustar prefix field. */
  readonly prefix?: string
  /**
   * Raw header bytes to write last, before the checksum, by offset (a string's characters as
   * bytes): other magics, star trailers, GNU times, garbage in numeric fields.
   */
  readonly patch?: Readonly<Record<number, string>>
}

function put(header: Uint8Array, start: number, length: number, value: string): void {
  const bytes = new TextEncoder().encode(value)
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`)
  header.set(bytes, start)
}

function octal(value: number, length: number): string {
  return value.toString(8).padStart(length - 1, '0')
}

/** Header and padded data blocks for one entry. */
export function tarBlocks(entry: RawTarEntry): Uint8Array {
  const data =
    typeof entry.data === 'string'
      ? new TextEncoder().encode(entry.data)
      : (entry.data ?? new Uint8Array(0))
  const header = new Uint8Array(512)
  put(header, 0, 100, entry.name)
  put(header, 100, 8, octal(entry.mode ?? 0o644, 8))
  put(header, 108, 8, octal(0, 8))
  put(header, 116, 8, octal(0, 8))
  put(header, 124, 12, octal(data.length, 12))
  put(header, 136, 12, octal(0, 12))
  put(header, 156, 1, entry.type ?? '0')
  put(header, 157, 100, entry.linkName ?? '')
  put(header, 257, 6, 'ustar\0')
  put(header, 263, 2, '00')
  put(header, 345, 155, entry.prefix ?? '')
  for (const [offset, bytes] of Object.entries(entry.patch ?? {}))
    header.set(
      Uint8Array.from(bytes, (c) => c.charCodeAt(0)),
      Number(offset),
    )
  header.fill(0x20, 148, 156)
  const sum = header.reduce((total, byte) => total + byte, 0)
  put(header, 148, 8, `${octal(sum, 7)}\0`)
  const blocks = new Uint8Array(512 + Math.ceil(data.length / 512) * 512)
  blocks.set(header)
  blocks.set(data, 512)
  return blocks
}

/**
 * A PAX extended header (`x`) carrying `records`, to put before an entry; or, with `type` `'g'`,
 * a PAX global header named `pax_global_header` (as `git archive` names it).
 */
export function paxBlocks(
  records: Readonly<Record<string, string>>,
  type: 'x' | 'g' = 'x',
): Uint8Array {
  // A record's length counts bytes, not characters.
  const bytes = (text: string): number => Buffer.byteLength(text)
  let body = ''
  for (const [key, value] of Object.entries(records)) {
    const rest = ` ${key}=${value}\n`
    let length = bytes(rest) + 1
    while (bytes(`${length}${rest}`) !== length) length = bytes(`${length}${rest}`)
    body += `${length}${rest}`
  }
  return tarBlocks({ name: type === 'x' ? 'PaxHeader' : 'pax_global_header', type, data: body })
}

/** A whole archive: the entries' blocks (RawTarEntry or prebuilt blocks) and two zero blocks. */
export function tarArchive(...parts: (RawTarEntry | Uint8Array)[]): Uint8Array {
  const blocks = parts.map((part) => (part instanceof Uint8Array ? part : tarBlocks(part)))
  const total = blocks.reduce((sum, block) => sum + block.length, 1024)
  const archive = new Uint8Array(total)
  let offset = 0
  for (const block of blocks) {
    archive.set(block, offset)
    offset += block.length
  }
  return archive
}

import { execFileSync } from 'node:child_process'
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
  writeSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { MAX_TAR_EXTENSION_SIZE, readTar, TarStreamReader, type TarEvent } from './tar-reader.ts'
import { paxBlocks, tarArchive, tarBlocks } from './tar-test-support.ts'

const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`
const longFile = `${'f'.repeat(120)}.txt`

function systemTar(format: 'gnu' | 'posix'): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-tar-'))
  try {
    mkdirSync(join(dir, 'root', longDir), { recursive: true })
    writeFileSync(join(dir, 'root', longDir, longFile), 'long')
    writeFileSync(join(dir, 'root', 'a.txt'), 'hello')
    symlinkSync(`../${longDir}/${longFile}`, join(dir, 'root', 'link'))
    execFileSync('tar', [
      `--format=${format}`,
      '-cf',
      join(dir, 'out.tar'),
      '-C',
      join(dir, 'root'),
      '.',
    ])
    return new Uint8Array(readFileSync(join(dir, 'out.tar')))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

function expectError(run: () => unknown, code: string): void {
  try {
    run()
  } catch (error) {
    expect(isInitguardError(error) && error.code).toBe(code)
    return
  }
  throw new Error(`expected ${code}`)
}

describe('readTar', () => {
  it.each(['gnu', 'posix'] as const)(
    'reads long names and links from GNU tar --format=%s',
    (format) => {
      const entries = readTar(systemTar(format))
      const byName = new Map(entries.map((entry) => [entry.name.replace(/\/$/u, ''), entry]))
      const file = byName.get(`./${longDir}/${longFile}`)
      expect(file?.type).toBe('file')
      expect(new TextDecoder().decode(file?.data)).toBe('long')
      expect(byName.get('./a.txt')?.data.length).toBe(5)
      expect(byName.get('./link')).toMatchObject({
        type: 'symlink',
        linkName: `../${longDir}/${longFile}`,
      })
      expect(byName.get(`./${longDir}`)?.type).toBe('directory')
    },
  )

  it('applies PAX path, linkpath and size records and the ustar prefix', () => {
    const entries = readTar(
      tarArchive(
        paxBlocks({ path: 'pax/name', linkpath: 'pax/target' }),
        { name: 'ignored', type: '2', linkName: 'ignored' },
        { name: 'file', prefix: 'some/dir', data: 'x' },
        paxBlocks({ size: '3' }),
        { name: 'sized', data: 'abc' },
      ),
    )
    expect(entries.map((entry) => [entry.name, entry.linkName])).toEqual([
      ['pax/name', 'pax/target'],
      ['some/dir/file', ''],
      ['sized', ''],
    ])
    expect(entries[2]?.data.length).toBe(3)
  })

  it('reports device, FIFO and unknown entries by type', () => {
    const types = readTar(
      tarArchive({ name: 'c', type: '3' }, { name: 'f', type: '6' }, { name: 'z', type: 'Z' }),
    )
    expect(types.map((entry) => entry.type)).toEqual(['character-device', 'fifo', 'other'])
  })

  it('refuses what Go and GNU tar read differently: mixed extensions, sparse files', () => {
    const hidden = tarBlocks({ name: 'etc/hidden', data: 'evil' })
    const longName = tarBlocks({ name: '././@LongLink', type: 'L', data: 'long-name\0' })
    const longLink = tarBlocks({ name: '././@LongLink', type: 'K', data: 'long-link\0' })
    const global = tarBlocks({ name: 'global', type: 'g', data: '' })
    const conflicts: Uint8Array[][] = [
      // Go takes the GNU name, GNU tar the PAX path.
      [paxBlocks({ path: 'pax-name' }), longName],
      [longName, paxBlocks({ path: 'pax-name' })],
      // Go frames the long-name header by its own size, not by the pending PAX size.
      [paxBlocks({ size: '1024' }), longName, hidden],
      [longLink, paxBlocks({ linkpath: 'pax-link' })],
      // Go drops what precedes a global header; GNU tar applies it to the next entry.
      [paxBlocks({ path: 'pax-name' }), global],
      [longName, global],
      [paxBlocks({ path: 'a' }), paxBlocks({ path: 'b' })],
      [longName, longName],
    ]
    for (const parts of conflicts) {
      expectError(
        () => readTar(tarArchive(...parts, { name: 'plain', type: '5' })),
        'ERR_TAR_EXTENSION_CONFLICT',
      )
    }
    // A long link and a long name for one entry, as GNU tar writes them, are one of each.
    expect(
      readTar(tarArchive(longLink, longName, { name: 'l', type: '2' })).map((e) => [
        e.name,
        e.linkName,
      ]),
    ).toEqual([['long-name', 'long-link']])
    // A sparse file's map and extension blocks would be read as data or as headers.
    expectError(
      () =>
        readTar(
          tarArchive(
            paxBlocks({ 'GNU.sparse.major': '1', 'GNU.sparse.minor': '0', 'GNU.sparse.name': 'x' }),
            { name: 'GNUSparseFile.0/x', data: '0\n' },
          ),
        ),
      'ERR_TAR_SPARSE',
    )
    const dir = mkdtempSync(join(tmpdir(), 'initguard-sparse-'))
    try {
      // A file with real holes (GNU tar stores a file as sparse only if it has some).
      const fd = openSync(join(dir, 'holes'), 'w')
      for (let i = 0; i < 12; i++) writeSync(fd, 'data', i * 65_536)
      ftruncateSync(fd, 12 * 65_536)
      closeSync(fd)
      // More holes than an old GNU header has room for: an extension block follows it.
      for (const format of ['gnu', 'posix']) {
        execFileSync('tar', [
          `--format=${format}`,
          '-S',
          '-cf',
          join(dir, 'l.tar'),
          '-C',
          dir,
          'holes',
        ])
        expectError(() => readTar(readFileSync(join(dir, 'l.tar'))), 'ERR_TAR_SPARSE')
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('reads an old-style file named with a trailing slash as a directory only without contents', () => {
    const hidden = tarBlocks({ name: 'etc/hidden', data: 'evil' })
    // Go reads the contents as the next header (etc/hidden), GNU tar skips them.
    expectError(
      () => readTar(tarArchive({ name: 'd/', type: '\0', data: hidden }, { name: 'after' })),
      'ERR_TAR_NAME',
    )
    expectError(
      () =>
        readTar(
          tarArchive(paxBlocks({ path: 'd/', size: '512' }), {
            name: 'd',
            type: '\0',
            data: hidden.subarray(0, 512),
          }),
        ),
      'ERR_TAR_NAME',
    )
    expect(
      readTar(tarArchive({ name: 'd/', type: '\0' }, { name: 'd/in', data: 'x' })).map((e) => [
        e.name,
        e.type,
      ]),
    ).toEqual([
      ['d/', 'directory'],
      ['d/in', 'file'],
    ])
  })

  it('refuses a regular or contiguous file named with a trailing slash, with or without contents', () => {
    // Checked with GNU tar 1.34: type 0 "foo/" is extracted as a directory (its contents
    // skipped with an error); Go's archive/tar reads a regular file.
    for (const type of ['0', '7'])
      for (const data of ['', 'hello'])
        expectError(() => readTar(tarArchive({ name: 'foo/', type, data })), 'ERR_TAR_NAME')
    expect(readTar(tarArchive({ name: 'foo', type: '0', data: 'x' }))[0]?.type).toBe('file')
  })

  // Each form below was read with Go 1.19's archive/tar and GNU tar 1.34 (see the report of
  // branch oci-followups): where they take different names, the archive is refused.
  it('joins the prefix as Go does, and refuses the star and GNU forms GNU tar reads otherwise', () => {
    const times = { 476: '14000000000 ', 488: '14000000000 ' }
    const star = { ...times, 508: 'tar\0' }
    // Star, prefix ended within its 131 bytes: every reader takes "dir/file".
    expect(readTar(tarArchive({ name: 'file', prefix: 'dir', patch: star }))[0]?.name).toBe(
      'dir/file',
    )
    // Star, prefix filling its 131 bytes: Go takes those 131, GNU tar runs on into the times.
    expectError(
      () => readTar(tarArchive({ name: 'file', patch: { 345: 'p'.repeat(131), ...star } })),
      'ERR_TAR_PREFIX',
    )
    // The same bytes without the star trailer are plain ustar: a 155-byte prefix for everyone.
    const ustar = readTar(tarArchive({ name: 'file', patch: { 345: 'q'.repeat(155) } }))
    expect(ustar[0]?.name).toBe(`${'q'.repeat(155)}/file`)
    // GNU magic: no prefix, but Go reads one where atime or ctime is not a number.
    const gnu = { 257: 'ustar  \0', 345: '\0'.repeat(155) }
    expect(readTar(tarArchive({ name: 'file', patch: gnu }))[0]?.name).toBe('file')
    const gnuTimes = { ...gnu, 345: '14000000000 ', 357: '14000000000 ' }
    expect(readTar(tarArchive({ name: 'file', patch: gnuTimes }))[0]?.name).toBe('file')
    expectError(
      () => readTar(tarArchive({ name: 'file', patch: { ...gnu, 345: 'evil/dir\0' } })),
      'ERR_TAR_PREFIX',
    )
  })

  it("refuses numeric fields and PAX records that Go's archive/tar refuses", () => {
    // Go refuses these headers, so containerd fails the layer.
    for (const patch of [
      { 108: 'zzzzzzz\0' },
      { 116: '8\0' },
      { 136: '1 2' },
      { 329: 'x' },
      { 476: 'zzzz', 508: 'tar\0' },
    ])
      expectError(() => readTar(tarArchive({ name: 'a', data: 'x', patch })), 'ERR_TAR_NUMBER')
    // Leading NULs, base-256 and negative base-256 times are numbers to Go.
    const fine = { 108: '\x00\x001750\x00', 136: '\xff'.repeat(12), 116: `\x80${'\0'.repeat(7)}` }
    expect(readTar(tarArchive({ name: 'a', patch: fine }))[0]?.name).toBe('a')
    for (const records of [{ uid: 'abc' }, { gid: '1e3' }, { mtime: '1.2.3' }, { atime: 'x' }])
      expectError(() => readTar(tarArchive(paxBlocks(records), { name: 'a' })), 'ERR_TAR_PAX')
    expect(
      readTar(tarArchive(paxBlocks({ uid: '+5', mtime: '-1.5', ctime: '7.' }), { name: 'a' })),
    ).toHaveLength(1)
    expectError(
      () => readTar(tarArchive(paxBlocks({ uname: 'a\0b' }), { name: 'a' })),
      'ERR_TAR_NAME',
    )
  })

  it('refuses empty PAX names and sizes and empty GNU long names, which Go reads as absent', () => {
    // Go keeps the header's own field; GNU tar takes the empty value (an empty name or link).
    for (const records of [{ path: '' }, { linkpath: '' }, { size: '' }])
      expectError(
        () => readTar(tarArchive(paxBlocks(records), { name: 'l', type: '2', linkName: 't' })),
        'ERR_TAR_PAX',
      )
    for (const type of ['L', 'K'])
      expectError(
        () =>
          readTar(
            tarArchive(tarBlocks({ name: '././@LongLink', type, data: '\0' }), {
              name: 'l',
              type: '2',
              linkName: 't',
            }),
          ),
        'ERR_TAR_NAME',
      )
  })

  it('hands a PAX global header over as an entry of its own, as Go does', () => {
    // As `git archive` writes it: a comment only.
    const entries = readTar(
      tarArchive(paxBlocks({ comment: 'git' }, 'g'), { name: 'a', data: 'x' }),
    )
    expect(entries.map((e) => [e.name, e.type, e.typeFlag, e.size, e.linkName])).toEqual([
      ['pax_global_header', 'other', 'g', 0, ''],
      ['a', 'file', '0', 1, ''],
    ])
    // GNU tar applies these to every later entry (a size re-frames them), Go to none.
    for (const records of [
      { path: 'renamed' },
      { linkpath: 'elsewhere' },
      { size: '512' },
      { 'GNU.sparse.major': '1' },
    ]) {
      const archive = tarArchive(paxBlocks(records, 'g'), { name: 'a' }, { name: 'b', data: 'x' })
      expectError(() => readTar(archive), 'ERR_TAR_GLOBAL_HEADER')
    }
    // Go parses a global header's records and refuses the archive when their framing is broken;
    // a bad value Go ignores in a global header, GNU tar fails on (it applies it to entries).
    const bad = tarBlocks({ name: 'pax_global_header', type: 'g', data: '99 comment=x\n' })
    expectError(() => readTar(tarArchive(bad, { name: 'a' })), 'ERR_TAR_PAX')
    expectError(
      () => readTar(tarArchive(paxBlocks({ uid: 'x' }, 'g'), { name: 'a' })),
      'ERR_TAR_PAX',
    )
  })

  it('refuses broken archives with coded errors', () => {
    const good = tarArchive({ name: 'a', data: 'hello' })
    expectError(() => readTar(good.subarray(0, 512)), 'ERR_TAR_TRUNCATED')
    expectError(() => readTar(good.subarray(0, 1024)), 'ERR_TAR_TRUNCATED')
    const corrupt = good.slice()
    corrupt[0] = 0x62
    expectError(() => readTar(corrupt), 'ERR_TAR_CHECKSUM')
    expectError(() => readTar(tarArchive(paxBlocks({ path: 'x' }))), 'ERR_TAR_DANGLING_EXTENSION')
    const badPax = tarBlocks({ name: 'PaxHeader', type: 'x', data: '99 path=x\n' })
    expectError(() => readTar(tarArchive(badPax, { name: 'a' })), 'ERR_TAR_PAX')
    expectError(
      () => readTar(tarArchive(paxBlocks({ path: 'a\0b' }), { name: 'a' })),
      'ERR_TAR_NAME',
    )
  })

  it('throws only InitguardErrors on arbitrary bytes', () => {
    const header = tarBlocks({ name: 'seed', data: 'x' })
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          // Mutations of a valid archive reach deeper than random bytes.
          fc
            .tuple(fc.nat(1535), fc.integer({ min: 0, max: 255 }), fc.nat(1536))
            .map(([index, byte, cut]) => {
              const bytes = tarArchive(header).slice(0, cut + 512)
              bytes[index % bytes.length] = byte
              return bytes
            }),
        ),
        (bytes) => {
          try {
            readTar(bytes)
          } catch (error) {
            if (!isInitguardError(error)) throw error
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

/** Push `archive` in pieces cut at `cuts`; the events with data joined per entry, as readTar. */
function readInPieces(archive: Uint8Array, cuts: readonly number[]): ReturnType<typeof readTar> {
  const reader = new TarStreamReader()
  const entries: { header: Extract<TarEvent, { kind: 'entry' }>['entry']; data: number[] }[] = []
  const bounds = [0, ...[...cuts].sort((a, b) => a - b), archive.length]
  for (let i = 0; i + 1 < bounds.length; i++) {
    for (const event of reader.push(archive.subarray(bounds[i], bounds[i + 1]))) {
      if (event.kind === 'entry') entries.push({ header: event.entry, data: [] })
      else entries.at(-1)?.data.push(...event.bytes)
    }
  }
  reader.end()
  return entries.map(({ header, data }) => ({ ...header, data: new Uint8Array(data) }))
}

function codeOfThrown(run: () => unknown): string {
  try {
    run()
  } catch (error) {
    return isInitguardError(error) ? error.code : String(error)
  }
  return 'no error'
}

/** An entry's blocks with the size field rewritten (and the checksum recomputed). */
function lyingSize(blocks: Uint8Array, size: number): Uint8Array {
  const out = blocks.slice()
  out.set(new TextEncoder().encode(`${size.toString(8).padStart(11, '0')}\0`), 124)
  out.fill(0x20, 148, 156)
  const sum = out.subarray(0, 512).reduce((total, byte) => total + byte, 0)
  out.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148)
  return out
}

describe('TarStreamReader', () => {
  const sample = tarArchive(
    { name: 'dir/', type: '5', mode: 0o755 },
    { name: 'dir/big', data: new Uint8Array(1500).map((_, i) => i % 251) },
    paxBlocks({ path: `${'p'.repeat(150)}/pax-name`, linkpath: 'target' }),
    { name: 'ignored', type: '2', linkName: 'ignored' },
    tarBlocks({ name: '././@LongLink', type: 'L', data: `${'g'.repeat(130)}\0` }),
    { name: 'short', data: 'gnu long name' },
    { name: 'empty', data: '' },
  )

  it('gives the same entries however the archive is cut into chunks', () => {
    const whole = readTar(sample)
    expect(whole.map((entry) => entry.name)).toEqual([
      'dir/',
      'dir/big',
      `${'p'.repeat(150)}/pax-name`,
      'g'.repeat(130),
      'empty',
    ])
    for (let cut = 1; cut < sample.length; cut += 7)
      expect(readInPieces(sample, [cut])).toEqual(whole)
    fc.assert(
      fc.property(fc.uniqueArray(fc.nat(sample.length), { maxLength: 40 }), (cuts) => {
        expect(readInPieces(sample, cuts)).toEqual(whole)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses an archive cut anywhere before its end-of-archive block as truncated', () => {
    // The end-of-archive block starts 1024 bytes before the end (tarArchive writes two).
    const end = sample.length - 1024 + 512
    for (let length = 0; length < end; length++) {
      expect(codeOfThrown(() => readInPieces(sample.subarray(0, length), [length >> 1]))).toBe(
        'ERR_TAR_TRUNCATED',
      )
    }
    expect(readInPieces(sample.subarray(0, end), [])).toHaveLength(5)
  })

  it('refuses headers whose size field lies', () => {
    const file = tarBlocks({ name: 'liar', data: 'x'.repeat(600) })
    const next = tarBlocks({ name: 'next', data: 'y' })
    // Shorter than the data: the rest of the data is read as a header.
    expect(codeOfThrown(() => readTar(tarArchive(lyingSize(file, 100), next)))).toBe(
      'ERR_TAR_CHECKSUM',
    )
    // Longer than the archive: the next header and the end blocks are read as data.
    expect(codeOfThrown(() => readTar(tarArchive(lyingSize(file, 5000), next)))).toBe(
      'ERR_TAR_TRUNCATED',
    )
    // Longer than the data but ending inside the next header's data: misaligned garbage.
    expect(codeOfThrown(() => readTar(tarArchive(lyingSize(file, 1100), next, next)))).toBe(
      'ERR_TAR_CHECKSUM',
    )
  })

  it('ignores bytes after the end-of-archive blocks, and reads nothing of them', () => {
    const garbage = new Uint8Array(3000).fill(0x41)
    const archive = Buffer.concat([tarArchive({ name: 'a', data: 'a' }), garbage])
    expect(readTar(archive).map((entry) => entry.name)).toEqual(['a'])
    const reader = new TarStreamReader()
    expect([...reader.push(archive.subarray(0, 1536))]).toHaveLength(2)
    expect(reader.ended).toBe(false)
    expect([...reader.push(archive.subarray(1536, 2048))]).toEqual([])
    expect(reader.ended).toBe(true)
    expect([...reader.push(garbage)]).toEqual([])
    reader.end()
  })

  it('refuses a lone zero block followed by an entry, which readers disagree on', () => {
    // GNU tar and Python stop at the zero block (hiding 'hidden'), Go refuses: we refuse too.
    const visible = tarBlocks({ name: 'visible', data: 'v' })
    const hidden = tarBlocks({ name: 'hidden', data: 'h' })
    const lone = Buffer.concat([visible, new Uint8Array(512), hidden, new Uint8Array(1024)])
    expect(codeOfThrown(() => readTar(lone))).toBe('ERR_TAR_LONE_ZERO_BLOCK')
    // In pieces too, whatever the cut.
    for (const cut of [1, 511, 1024, 1536, 1537])
      expect(codeOfThrown(() => readInPieces(lone, [cut]))).toBe('ERR_TAR_LONE_ZERO_BLOCK')
    // One zero block at the very end is an end (as Go reads it).
    expect(readTar(Buffer.concat([visible, new Uint8Array(512)])).map((e) => e.name)).toEqual([
      'visible',
    ])
  })

  it('streams a huge declared size without holding it, and bounds extension headers', () => {
    // A base-256 size of 1 TiB: the header is read, the data is awaited, and the end is truncation.
    const huge = tarBlocks({ name: 'huge', data: '' })
    huge.set([0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], 124)
    huge.fill(0x20, 148, 156)
    const sum = huge.subarray(0, 512).reduce((total, byte) => total + byte, 0)
    huge.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148)
    const reader = new TarStreamReader()
    const events = [...reader.push(huge), ...reader.push(new Uint8Array(4096))]
    expect(events[0]).toMatchObject({ kind: 'entry', entry: { name: 'huge', size: 2 ** 40 } })
    expect(events.slice(1).every((event) => event.kind === 'data')).toBe(true)
    expect(
      codeOfThrown(() => {
        reader.end()
      }),
    ).toBe('ERR_TAR_TRUNCATED')
    // A PAX size record as large: the same, as a stream.
    expect(
      codeOfThrown(() =>
        readTar(tarArchive(paxBlocks({ size: '999999999999999' }), { name: 'f', data: 'x' })),
      ),
    ).toBe('ERR_TAR_TRUNCATED')
    // Extension headers are held in memory, so their size is bounded before anything is read.
    const pax = lyingSize(paxBlocks({ path: 'x' }), MAX_TAR_EXTENSION_SIZE + 1)
    expect(codeOfThrown(() => [...new TarStreamReader().push(pax.subarray(0, 512))])).toBe(
      'ERR_TAR_EXTENSION_TOO_LARGE',
    )
    const longName = tarBlocks({ name: '././@LongLink', type: 'L', data: 'x' })
    expect(
      codeOfThrown(() => [
        ...new TarStreamReader().push(lyingSize(longName, 2 ** 33).subarray(0, 512)),
      ]),
    ).toBe('ERR_TAR_EXTENSION_TOO_LARGE')
  })

  it('throws only InitguardErrors on arbitrary bytes, however they are chunked', () => {
    const seed = tarArchive(
      paxBlocks({ path: 'pax' }),
      { name: 'seed', data: 'x'.repeat(700) },
      tarBlocks({ name: '././@LongLink', type: 'K', data: 'target' }),
      { name: 'link', type: '2' },
    )
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 3000 }),
          fc
            .tuple(fc.nat(seed.length - 1), fc.integer({ min: 0, max: 255 }), fc.nat(seed.length))
            .map(([index, byte, cut]) => {
              const bytes = seed.slice(0, cut)
              if (index < bytes.length) bytes[index] = byte
              return bytes
            }),
        ),
        fc.uniqueArray(fc.nat(3000), { maxLength: 8 }),
        (bytes, cuts) => {
          try {
            readInPieces(
              bytes,
              cuts.filter((cut) => cut <= bytes.length),
            )
          } catch (error) {
            if (!isInitguardError(error)) throw error
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

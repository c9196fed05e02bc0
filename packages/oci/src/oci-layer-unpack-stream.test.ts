/**
 * unpackLayer streaming a layer from a file: the same result as in memory, the DiffID checked
 * before anything is written, trailing bytes, truncated and lying layers, entry limits,
 * cancellation, a blob that changes between the check and the write, and random trees packed by
 * GNU tar. Layers in memory are in oci-layer-unpack.test.ts.
 */
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { gzipSync } from 'node:zlib'
import fc from 'fast-check'
import { describe, expect, it, onTestFinished } from 'vitest'
import { GZIP, TAR, expectRefused, scratch, tree } from './layer-test-support.ts'
import { unpackLayer } from './oci-layer-unpack.ts'
import { tarArchive, tarBlocks } from './tar-test-support.ts'

const sha256 = (bytes: Uint8Array): string =>
  `sha256:${createHash('sha256').update(bytes).digest('hex')}`

/**
 * A signal that is never aborted but runs `act` the `nth` time it is asked: the unpacker asks once
 * per chunk it reads, so this reaches into the moment between pass 1 and pass 2.
 */
function onNthRead(nth: number, act: () => void): AbortSignal {
  let reads = 0
  return {
    get aborted() {
      if (++reads === nth) act()
      return false
    },
  } as AbortSignal
}

describe('unpackLayer, streaming', () => {
  const big = new Uint8Array(700_001).map((_, i) => (i * 2654435761) >>> 24)

  it('unpacks a file source spanning many chunks as it unpacks the same bytes in memory', async () => {
    const tar = tarArchive(
      { name: 'big.bin', data: big },
      { name: 'small', data: 'small' },
      { name: 'big2.bin', data: big.subarray(1) },
    )
    const { base, dest } = scratch()
    const blobPath = join(base, 'blob')
    writeFileSync(blobPath, gzipSync(tar))
    const fromFile = await unpackLayer({ path: blobPath }, GZIP, dest)
    expect(fromFile).toMatchObject({ files: 3, diffId: sha256(tar), unpackedSize: tar.length })
    expect(Buffer.from(readFileSync(join(dest, 'big.bin'))).equals(Buffer.from(big))).toBe(true)
    expect(readFileSync(join(dest, 'big2.bin')).length).toBe(big.length - 1)
    const inMemory = scratch()
    await unpackLayer(tar, TAR, inMemory.dest)
    expect(tree(inMemory.dest)).toEqual(tree(dest))
    await expectRefused(
      unpackLayer({ path: join(base, 'missing') }, GZIP, scratch().dest),
      'ERR_LAYER_READ',
    )
  })

  it('checks the DiffID before writing anything', async () => {
    const tar = tarArchive({ name: 'etc/', type: '5' }, { name: 'etc/passwd', data: 'root' })
    const { dest } = scratch()
    const wrong = sha256(new Uint8Array(1))
    await expectRefused(
      unpackLayer(gzipSync(tar), GZIP, dest, { expectedDiffId: wrong }),
      'ERR_LAYER_DIFF_ID',
    )
    expect(readdirSync(dest)).toEqual([])
    const result = await unpackLayer(gzipSync(tar), GZIP, dest, { expectedDiffId: sha256(tar) })
    expect(result.files).toBe(1)
  })

  it('hashes and counts bytes after the end-of-archive block, and unpacks nothing of them', async () => {
    const tar = Buffer.concat([
      tarArchive({ name: 'a', data: 'a' }),
      new TextEncoder().encode('garbage after the end'),
    ])
    const { dest } = scratch()
    const result = await unpackLayer(tar, TAR, dest)
    expect(result).toMatchObject({ diffId: sha256(tar), unpackedSize: tar.length, files: 1 })
    expect(tree(dest)).toEqual(['a = a'])
    await expectRefused(
      unpackLayer(tar, TAR, scratch().dest, { maxUnpackedSize: tar.length - 1 }),
      'ERR_LAYER_TOO_LARGE',
    )
  })

  it('refuses truncated and lying layers before writing anything', async () => {
    const tar = tarArchive(
      { name: 'first', data: 'written?' },
      { name: 'second', data: big.subarray(0, 5000) },
    )
    for (const cut of [512, 1024, 1536, 2048, 4000, tar.length - 1024]) {
      const { dest } = scratch()
      await expectRefused(unpackLayer(tar.subarray(0, cut), TAR, dest), 'ERR_TAR_TRUNCATED')
      await expectRefused(
        unpackLayer(gzipSync(tar.subarray(0, cut)), GZIP, dest),
        'ERR_TAR_TRUNCATED',
      )
      expect(readdirSync(dest)).toEqual([])
    }
    // A gzip stream cut short is refused by zlib, also before anything is written.
    const { dest } = scratch()
    const gzip = gzipSync(tar)
    await expectRefused(
      unpackLayer(gzip.subarray(0, gzip.length - 9), GZIP, dest),
      'ERR_LAYER_GZIP',
    )
    // A size field of 1 TiB: streamed as data that never comes, held nowhere.
    const huge = tarBlocks({ name: 'huge', data: '' })
    huge.set([0x80, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0], 124)
    huge.fill(0x20, 148, 156)
    const sum = huge.subarray(0, 512).reduce((total, byte) => total + byte, 0)
    huge.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148)
    await expectRefused(
      unpackLayer(tarArchive({ name: 'first', data: 'x' }, huge), TAR, dest),
      'ERR_TAR_TRUNCATED',
    )
    expect(readdirSync(dest)).toEqual([])
  })

  it('limits the number of entries before writing anything', async () => {
    const entries = Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: 'x' }))
    const { dest } = scratch()
    await expectRefused(
      unpackLayer(tarArchive(...entries), TAR, dest, { maxEntries: 4 }),
      'ERR_LAYER_TOO_MANY_ENTRIES',
    )
    expect(readdirSync(dest)).toEqual([])
    expect((await unpackLayer(tarArchive(...entries), TAR, dest, { maxEntries: 5 })).files).toBe(5)
  })

  it('stops when cancelled, before writing or while writing', async () => {
    const tar = tarArchive({ name: 'a', data: 'a' })
    const before = scratch()
    const controller = new AbortController()
    controller.abort()
    await expectRefused(
      unpackLayer(tar, TAR, before.dest, { signal: controller.signal }),
      'ERR_LAYER_CANCELLED',
    )
    expect(readdirSync(before.dest)).toEqual([])
    // Cancelled as pass 2 reads its first chunk: pass 1 found nothing wrong, nothing is created.
    const during = scratch()
    let reads = 0
    const fromSecondRead = {
      get aborted() {
        return ++reads >= 2
      },
    } as AbortSignal
    await expectRefused(
      unpackLayer(tar, TAR, during.dest, { signal: fromSecondRead }),
      'ERR_LAYER_CANCELLED',
    )
    expect(reads).toBe(2)
    expect(readdirSync(during.dest)).toEqual([])
  })

  it('refuses a blob that changes between the check and the write', async () => {
    const tar = tarArchive({ name: 'a', data: 'aaaa' }, { name: 'b', data: 'bbbb' })
    // The contents change: written, then refused at the end by the digest.
    const contents = tar.slice()
    const first = scratch()
    await expectRefused(
      unpackLayer(contents, TAR, first.dest, {
        signal: onNthRead(2, () => {
          contents.set(new TextEncoder().encode('AAAA'), 512)
        }),
      }),
      'ERR_LAYER_CHANGED',
    )
    // A header changes: refused at that header, before the entry it now names is created.
    const renamed = tarArchive({ name: 'a', data: 'aaaa' }, { name: 'c', data: 'bbbb' })
    const headers = tar.slice()
    const second = scratch()
    await expectRefused(
      unpackLayer(headers, TAR, second.dest, {
        signal: onNthRead(2, () => {
          headers.set(renamed.subarray(1024, 1536), 1024)
        }),
      }),
      'ERR_LAYER_CHANGED',
    )
    expect(existsSync(join(second.dest, 'c'))).toBe(false)
  })

  it('round-trips random trees packed by GNU tar', async () => {
    const segment = fc
      .stringMatching(/^[a-z0-9_-][a-z0-9._-]{0,40}$/u)
      .filter((name) => !name.startsWith('.wh.'))
    const treeArbitrary = fc.uniqueArray(
      fc.record({
        path: fc.array(segment, { minLength: 1, maxLength: 5 }),
        contents: fc.option(fc.uint8Array({ maxLength: 3000 }), { nil: undefined }),
      }),
      { maxLength: 12, selector: (item) => item.path[0] ?? '' },
    )
    await fc.assert(
      fc.asyncProperty(treeArbitrary, fc.boolean(), async (items, gnu) => {
        const source = mkdtempSync(join(tmpdir(), 'initguard-round-'))
        onTestFinished(() => {
          rmSync(source, { recursive: true, force: true })
        })
        for (const { path, contents } of items) {
          const full = join(source, ...path)
          if (contents === undefined) mkdirSync(full, { recursive: true })
          else {
            mkdirSync(join(full, '..'), { recursive: true })
            writeFileSync(full, contents)
          }
        }
        const layer = new Uint8Array(
          execFileSync('tar', [
            `--format=${gnu ? 'gnu' : 'posix'}`,
            '-czf',
            '-',
            '-C',
            source,
            '.',
          ]),
        )
        const { dest } = scratch()
        await unpackLayer(layer, GZIP, dest)
        const expected = tree(source).map((line) => line.replace(/ = .*$/su, ''))
        expect(tree(dest).map((line) => line.replace(/ = .*$/su, ''))).toEqual(expected)
        for (const { path, contents } of items) {
          if (contents !== undefined)
            expect(
              Buffer.from(readFileSync(join(dest, ...path))).equals(Buffer.from(contents)),
            ).toBe(true)
        }
      }),
      { numRuns: 25 },
    )
  })
})

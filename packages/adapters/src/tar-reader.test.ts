import { execFileSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { readTar } from './tar-reader.ts'
import { paxBlocks, tarArchive, tarBlocks } from './tar-test-support.ts'

const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`
const longFile = `${'f'.repeat(120)}.txt`

function systemTar(format: 'gnu' | 'posix'): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-tar-'))
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
      tarArchive({ name: 'c', type: '3' }, { name: 'f', type: '6' }, { name: 's', type: 'S' }),
    )
    expect(types.map((entry) => entry.type)).toEqual(['character-device', 'fifo', 'other'])
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

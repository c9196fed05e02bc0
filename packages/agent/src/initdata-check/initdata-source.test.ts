/**
 * Reading each source once into memory: a file, an annotation value, a block image (also one on a
 * larger "device"), and the refusals: no magic, a corrupt header, bytes hidden in the padding,
 * missing paths, a directory, and values that do not decode.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import { rejected } from '@initguard/testkit'
import { readInitdataSource } from './initdata-source.ts'

const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"cdh.toml" = "x"\n'
const bytes = new TextEncoder().encode(DOCUMENT)
let dir: string

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'initguard-agent-source-'))
})

afterAll(() => {
  rmSync(dir, { recursive: true, force: true })
})

function file(name: string, content: string | Uint8Array): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

const text = (b: Uint8Array): string => Buffer.from(b).toString()

describe('readInitdataSource', () => {
  it('file: the exact bytes', async () => {
    const path = file('doc.toml', DOCUMENT)
    const read = await readInitdataSource('file', path)
    expect(text(read.bytes)).toBe(DOCUMENT)
    expect(read.source).toEqual({ kind: 'file', path })
  })

  it('annotation: base64 of gzip, with a final newline and line breaks', async () => {
    const value = encodeAnnotation(bytes).replace(/(.{20})/g, '$1\n') + '\n'
    const read = await readInitdataSource('annotation', file('annotation.txt', value))
    expect(text(read.bytes)).toBe(DOCUMENT)
  })

  it('image: the data.img Kata builds', async () => {
    const read = await readInitdataSource('image', file('data.img', buildInitdataImage(bytes)))
    expect(text(read.bytes)).toBe(DOCUMENT)
    expect(read.source.kind).toBe('image')
  })

  it('image: on a device larger than the image, only the image is read', async () => {
    const image = buildInitdataImage(bytes)
    const device = new Uint8Array(image.length + 4096)
    device.set(image)
    device[device.length - 1] = 0xff // beyond the padded image: not part of it
    const read = await readInitdataSource('image', file('device.img', device))
    expect(text(read.bytes)).toBe(DOCUMENT)
  })

  it('image: a device without the magic is refused (ERR_INITDATA_IMAGE_MAGIC), not searched', async () => {
    const disk = new Uint8Array(4096)
    disk.set(buildInitdataImage(bytes), 512) // the image further in is not looked for
    const error = await rejected(readInitdataSource('image', file('disk.img', disk)))
    expect(error.code).toBe('ERR_INITDATA_IMAGE_MAGIC')
    expect(error.category).toBe('malformed')
    expect(error.message).toContain('disk.img')
  })

  it('image: a header shorter than 16 bytes is refused', async () => {
    const error = await rejected(readInitdataSource('image', file('short.img', 'initdata')))
    expect(error.code).toBe('ERR_INITDATA_IMAGE_MAGIC')
  })

  it('image: an absurd length field is refused before reading it', async () => {
    const image = buildInitdataImage(bytes)
    new DataView(image.buffer).setBigUint64(8, 1n << 40n, true)
    const error = await rejected(readInitdataSource('image', file('huge.img', image)))
    expect(error.code).toBe('ERR_INITDATA_IMAGE_LENGTH')
  })

  it('image: a truncated image is refused', async () => {
    const image = buildInitdataImage(bytes)
    new DataView(image.buffer).setBigUint64(8, 4000n, true)
    const error = await rejected(readInitdataSource('image', file('cut.img', image)))
    expect(error.code).toBe('ERR_INITDATA_IMAGE_LENGTH')
  })

  it('image: bytes hidden in the padding are refused', async () => {
    const image = buildInitdataImage(bytes)
    image[image.length - 1] = 1
    const error = await rejected(readInitdataSource('image', file('hidden.img', image)))
    expect(error.code).toBe('ERR_INITDATA_IMAGE_PADDING')
  })

  it.each(['file', 'annotation', 'image'] as const)(
    '%s: a missing path is a local file error',
    async (kind) => {
      const error = await rejected(readInitdataSource(kind, join(dir, 'nope')))
      expect(error.code).toBe('ERR_FILE_READ')
      expect(error.category).toBe('io')
    },
  )

  it.each(['file', 'image'] as const)('%s: a directory is a local file error', async (kind) => {
    const sub = join(dir, `sub-${kind}`)
    mkdirSync(sub)
    expect((await rejected(readInitdataSource(kind, sub))).code).toBe('ERR_FILE_READ')
  })

  it('annotation: not base64, or not gzip, is malformed', async () => {
    expect((await rejected(readInitdataSource('annotation', file('b.txt', '%%%')))).code).toBe(
      'ERR_BASE64_INVALID',
    )
    const notGzip = Buffer.from(DOCUMENT).toString('base64')
    expect((await rejected(readInitdataSource('annotation', file('g.txt', notGzip)))).code).toBe(
      'ERR_GZIP_INVALID',
    )
  })

  it('a document over the size limit is refused', async () => {
    const path = file('big.toml', DOCUMENT + '#'.repeat(2048))
    const error = await rejected(readInitdataSource('file', path, { maxSize: 1024 }))
    expect(error.code).toBe('ERR_FILE_TOO_LARGE')
    const image = file('big.img', buildInitdataImage(new TextEncoder().encode('#'.repeat(4096))))
    expect((await rejected(readInitdataSource('image', image, { maxSize: 1024 }))).code).toBe(
      'ERR_GZIP_TOO_LARGE',
    )
  })
})

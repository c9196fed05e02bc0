import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import fc from 'fast-check'
import { buildInitdataImage, readInitdataImage } from './block-image.ts'
import { parseInitdata } from './document.ts'
import { DEFAULT_MAX_DOCUMENT_SIZE } from './gzip.ts'
import { decodeAnnotation, encodeAnnotation } from './kata.ts'
import { renderInitdata } from './render.ts'

// The tool reads what it writes: every document render produces comes back byte for byte from the
// annotation and the block image, and a document the readers would refuse is never written.

const same = (a: Uint8Array, b: Uint8Array): boolean => Buffer.from(a).equals(Buffer.from(b))

/** Both transport forms of `document`, decoded again. */
function roundTrips(document: Uint8Array): boolean {
  return (
    same(decodeAnnotation(encodeAnnotation(document)), document) &&
    same(readInitdataImage(buildInitdataImage(document)), document)
  )
}

const text = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 60 }),
  fc.string({
    unit: fc.constantFrom('\r\n', '\n', '\r', "'", '"', '\\', '\t', '\u0000', 'é', '🔐', '\ufeff'),
    maxLength: 40,
  }),
)

describe('build → encode → decode and build → image → read-image', () => {
  it('give back the exact bytes for any rendered document (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          text.filter((k) => k.length > 0),
          text,
          { maxKeys: 4 },
        ),
        fc.constantFrom('sha256', 'sha384', 'sha512'),
        (data, algorithm) => {
          const document = renderInitdata({ algorithm, data })
          expect(roundTrips(document)).toBe(true)
          expect(parseInitdata(decodeAnnotation(encodeAnnotation(document))).digest).toEqual(
            parseInitdata(document).digest,
          )
        },
      ),
      { numRuns: 300 },
    )
  })

  it('give back any bytes, of any length around the 512-byte padding (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        expect(roundTrips(bytes)).toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('round-trip hand-written documents: empty data, CRLF, a BOM, no final newline', () => {
    const documents = [
      'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n',
      'version = "0.1.0"\r\nalgorithm = "sha384"\r\n[data]\r\n"k" = "grüße 🔐"\r\n',
      '\ufeffversion = "0.1.0"\nalgorithm = "sha512"\n[data]',
    ].map((d) => new TextEncoder().encode(d))
    for (const document of documents) {
      parseInitdata(document)
      expect(roundTrips(document)).toBe(true)
    }
    expect(roundTrips(new Uint8Array(0))).toBe(true)
  })

  it('write a document of exactly the readers’ limit, and refuse one byte more', () => {
    const largest = new Uint8Array(DEFAULT_MAX_DOCUMENT_SIZE).fill(0x61)
    expect(roundTrips(largest)).toBe(true)
    const over = new Uint8Array(DEFAULT_MAX_DOCUMENT_SIZE + 1).fill(0x61)
    expect(codeOf(() => encodeAnnotation(over))).toBe('ERR_INITDATA_TOO_LARGE')
    expect(codeOf(() => buildInitdataImage(over))).toBe('ERR_INITDATA_TOO_LARGE')
    const header = renderInitdata({ algorithm: 'sha256', data: { k: '' } }).length
    const fits = {
      algorithm: 'sha256',
      data: { k: 'a'.repeat(DEFAULT_MAX_DOCUMENT_SIZE - header) },
    } as const
    expect(renderInitdata(fits)).toHaveLength(DEFAULT_MAX_DOCUMENT_SIZE)
    const tooLarge = { ...fits, data: { k: `${fits.data.k}a` } }
    expect(codeOf(() => renderInitdata(tooLarge))).toBe('ERR_INITDATA_TOO_LARGE')
  })
})

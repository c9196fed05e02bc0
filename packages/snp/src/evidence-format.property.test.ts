/**
 * Property tests of the SNP evidence and AMD certificate readers: any bytes, text or JSON, and
 * real evidence cut short or with bytes changed, either parse or are refused with a coded
 * malformed-input InitguardError; real evidence in each form reads back the same report.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseAmdCertificate, parsePemBundle } from './amd-certificate.ts'
import { parseAmdCrl } from './amd-crl.ts'
import { parseSnpEvidence } from './evidence-format.ts'
import { parseSnpReport } from './report.ts'
import { snpReportToTrusteeJson } from './trustee-evidence-encode.ts'

const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const REPORTS = ['milan-v2-a/report.bin', 'milan-v3-vlek/report.bin'].map(read)
const CERTIFICATES = ['milan-v2-a/vcek.der', 'milan-v3-vlek/vlek.der'].map(read)
const PEM = new TextDecoder().decode(read('amd-roots/ask_ark_milan.pem'))
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** Run; an InitguardError of category `malformed` is fine, anything else fails the property. */
function parsesOrRefuses(run: () => unknown): void {
  try {
    run()
  } catch (error) {
    if (!isInitguardError(error)) throw error
    // The package's own codes, or the shared readers' (DER, base64, JSON, UTF-8) for a part they read.
    expect(error.code).toMatch(/^ERR_(SNP|DER|BASE64|JSON|UTF8)_/)
    expect(error.category).toBe('malformed')
  }
}

/** `base` with up to six bytes changed. */
function changed(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.tuple(fc.nat({ max: base.length - 1 }), fc.integer({ min: 0, max: 255 }))
  return fc.array(edit, { minLength: 1, maxLength: 6 }).map((edits) => {
    const bytes = base.slice()
    for (const [at, value] of edits) bytes[at] = value
    return bytes
  })
}

/** `base` cut short, or with bytes appended. */
function resized(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    fc.nat({ max: base.length }).map((n) => base.subarray(0, n)),
    fc.uint8Array({ minLength: 1, maxLength: 3000 }).map((tail) => Buffer.concat([base, tail])),
  )
}

describe('parseSnpEvidence properties', () => {
  it('reads the same report from the raw report and from its Trustee JSON', () => {
    for (const raw of REPORTS) {
      const report = parseSnpReport(raw)
      expect(parseSnpEvidence(raw)).toMatchObject({ format: 'report', certificates: [] })
      const json = utf8(JSON.stringify(snpReportToTrusteeJson(report)))
      const fromJson = parseSnpEvidence(json)
      expect(fromJson.format).toBe('trustee-json')
      expect(fromJson.report.signedBytes).toEqual(report.signedBytes)
    }
  })

  it('throws nothing but coded malformed-input errors for any bytes, JSON or damaged report', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 3000 }),
      fc.jsonValue().map((value) => utf8(JSON.stringify(value))),
      fc.constantFrom(...REPORTS).chain((r) => fc.oneof(changed(r), resized(r))),
    )
    fc.assert(
      fc.property(bytes, (b) => {
        parsesOrRefuses(() => parseSnpEvidence(b))
      }),
      { numRuns: 500 },
    )
  })

  it('a changed byte in the signed part is never read as the original report', () => {
    const raw = REPORTS[0] ?? new Uint8Array(0)
    const original = parseSnpReport(raw)
    fc.assert(
      fc.property(changed(raw.subarray(0, original.signedBytes.length)), (signed) => {
        const bytes = Buffer.concat([signed, raw.subarray(signed.length)])
        fc.pre(!bytes.equals(raw))
        try {
          expect(parseSnpEvidence(bytes).report.signedBytes).not.toEqual(original.signedBytes)
        } catch (error) {
          if (!isInitguardError(error)) throw error
        }
      }),
      { numRuns: 200 },
    )
  })
})

describe('AMD certificate and CRL reader properties', () => {
  it('throw nothing but coded malformed-input errors for any bytes or damaged certificate', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      fc.constantFrom(...CERTIFICATES).chain((c) => fc.oneof(changed(c), resized(c))),
    )
    fc.assert(
      fc.property(bytes, (b) => {
        parsesOrRefuses(() => parseAmdCertificate(b, 'VCEK'))
        parsesOrRefuses(() => parseAmdCrl(b))
      }),
      { numRuns: 500 },
    )
  })

  it('throw nothing but coded malformed-input errors for any text or damaged PEM bundle', () => {
    const text = fc.oneof(
      fc.string(),
      fc.nat({ max: PEM.length }).map((n) => PEM.slice(0, n)),
      fc
        .tuple(fc.nat({ max: PEM.length - 1 }), fc.string({ maxLength: 3 }))
        .map(([at, s]) => PEM.slice(0, at) + s + PEM.slice(at + 1)),
    )
    fc.assert(
      fc.property(text, (t) => {
        parsesOrRefuses(() => parsePemBundle(t, 'ASK/ARK'))
        parsesOrRefuses(() => parseAmdCertificate(t, 'ASK'))
      }),
      { numRuns: 300 },
    )
  })

  it('reads the real bundle as two certificates, whatever whitespace surrounds it', () => {
    fc.assert(
      fc.property(
        fc.stringMatching(/^[ \t\r\n]{0,4}$/),
        fc.stringMatching(/^[ \t\r\n]{0,4}$/),
        (a, b) => {
          expect(parsePemBundle(a + PEM + b, 'ASK/ARK')).toHaveLength(2)
        },
      ),
    )
  })
})

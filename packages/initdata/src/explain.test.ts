import { describe, expect, it } from 'vitest'
import { parseInitdata } from './document.ts'
import { explainBinding } from './explain.ts'
import { bindingFor, fitDigest, type TeeKind } from './tee-binding.ts'
import { hashBytes, type InitdataAlgorithm } from './algorithms.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
// aa.toml is a one-line string, so the CRLF copies below still parse: a CRLF kept inside a
// multi-line string is refused before there is anything to explain (tested below).
const TEXT = 'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = "x = 1\\n"\n'

function fieldValue(
  text: string | Uint8Array,
  tee: TeeKind,
  algorithm: InitdataAlgorithm = 'sha384',
): Uint8Array {
  const bytes = typeof text === 'string' ? enc(text) : text
  return bindingFor(tee, algorithm, hashBytes(algorithm, bytes)).value
}

function causes(text: string, tee: TeeKind, expected: Uint8Array): string[] {
  return explainBinding(parseInitdata(enc(text)), tee, expected).findings.map((f) => f.cause)
}

describe('explainBinding', () => {
  it('says a matching document matches', () => {
    const report = explainBinding(parseInitdata(enc(TEXT)), 'tdx', fieldValue(TEXT, 'tdx'))
    expect(report.matches).toBe(true)
    expect(report.findings).toEqual([])
  })

  it('finds a final newline the expected value lacked', () => {
    expect(causes(TEXT, 'tdx', fieldValue(TEXT.slice(0, -1), 'tdx'))[0]).toBe('final-newline-extra')
  })

  it('finds a missing final newline', () => {
    expect(causes(TEXT.slice(0, -1), 'snp', fieldValue(TEXT, 'snp'))[0]).toBe(
      'final-newline-missing',
    )
  })

  it('finds CRLF line ends, alone and with a newline slip', () => {
    const crlf = TEXT.replace(/\n/g, '\r\n')
    expect(causes(crlf, 'tdx', fieldValue(TEXT, 'tdx'))[0]).toBe('crlf')
    expect(causes(crlf, 'tdx', fieldValue(TEXT.slice(0, -1), 'tdx'))[0]).toBe(
      'crlf+final-newline-extra',
    )
    expect(causes(TEXT, 'tdx', fieldValue(crlf, 'tdx'))[0]).toBe('lf')
  })

  it('adds the final newline in the line ends of the converted text, not of the file', () => {
    const crlf = TEXT.replace(/\n/g, '\r\n')
    // A CRLF file that lost its final line end, against the LF original: the fix adds "\n".
    expect(causes(crlf.slice(0, -2), 'snp', fieldValue(TEXT, 'snp'))).toEqual([
      'crlf+final-newline-missing',
    ])
    // An LF file that lost its final line end, against the CRLF original: the fix adds "\r\n".
    expect(causes(TEXT.slice(0, -1), 'snp', fieldValue(crlf, 'snp'))).toEqual([
      'lf+final-newline-missing',
    ])
  })

  it('is never reached for a CRLF copy of multi-line strings: parsing refuses it and says why', () => {
    const multiLine = TEXT.replace('"x = 1\\n"', "'''\nx = 1\n'''")
    expect(parseInitdata(enc(multiLine)).data.get('aa.toml')).toBe('x = 1\n')
    expect(() => parseInitdata(enc(multiLine.replace(/\n/g, '\r\n')))).toThrow(
      expect.objectContaining({
        code: 'ERR_INITDATA_TOML_CRLF',
        hint: expect.stringContaining('LF line ends') as unknown,
      }),
    )
  })

  it('finds another algorithm', () => {
    const found = explainBinding(parseInitdata(enc(TEXT)), 'tdx', fieldValue(TEXT, 'tdx', 'sha256'))
    expect(found.findings[0]?.cause).toBe('algorithm')
    expect(found.findings[0]?.explanation).toMatch(/sha256.*algorithm = "sha384"/)
  })

  it('finds the unfitted digest, the wrong truncation side and another TEE', () => {
    const digest = hashBytes('sha384', enc(TEXT))
    expect(causes(TEXT, 'snp', digest)[0]).toBe('unfitted')
    expect(causes(TEXT, 'snp', digest.subarray(16))[0]).toBe('truncated-left')
    expect(causes(TEXT, 'snp', fitDigest(digest, 48))).toContain('unfitted')
    expect(causes(TEXT, 'tdx', fitDigest(digest, 32))[0]).toBe('fitted-for-snp')
    const sha256Doc = TEXT.replace('sha384', 'sha256')
    const d256 = hashBytes('sha256', enc(sha256Doc))
    const leftPadded = new Uint8Array(48)
    leftPadded.set(d256, 16)
    expect(causes(sha256Doc, 'tdx', leftPadded)[0]).toBe('padded-left')
  })

  it('finds a raw digest given for vTPM, and explains sha384 on vTPM', () => {
    const sha256Doc = TEXT.replace('sha384', 'sha256')
    expect(causes(sha256Doc, 'vtpm', hashBytes('sha256', enc(sha256Doc)))[0]).toBe(
      'vtpm-raw-digest',
    )
    const report = explainBinding(parseInitdata(enc(TEXT)), 'vtpm', new Uint8Array(32))
    expect(report.matches).toBe(false)
    expect(report.findings[0]?.cause).toBe('vtpm-digest-length')
  })

  it('finds a vTPM digest extended into PCR 8 more than once, up to 8 times', () => {
    const sha256Doc = TEXT.replace('sha384', 'sha256')
    const digest = hashBytes('sha256', enc(sha256Doc))
    const extend = (pcr: Uint8Array): Uint8Array =>
      hashBytes('sha256', Uint8Array.from([...pcr, ...digest]))
    let pcr = extend(new Uint8Array(32))
    for (let times = 2; times <= 9; times++) {
      pcr = extend(pcr)
      const report = explainBinding(parseInitdata(enc(sha256Doc)), 'vtpm', pcr)
      expect(report.matches).toBe(false)
      expect(report.findings.map((f) => f.cause)).toEqual(
        times <= 8 ? ['vtpm-repeated-extend'] : [],
      )
      if (times <= 8) expect(report.findings[0]?.explanation).toContain(`${times} times`)
    }
    // With a slip in the bytes as well: the CRLF copy of the document, extended twice.
    const crlf = sha256Doc.replace(/\n/g, '\r\n')
    const twice = extend(extend(new Uint8Array(32)))
    expect(causes(crlf, 'vtpm', twice)).toEqual(['crlf+vtpm-repeated-extend'])
  })

  it('finds a byte order mark', () => {
    const bom = '\ufeff' + TEXT
    expect(causes(bom, 'sgx', fieldValue(TEXT, 'sgx'))[0]).toBe('bom')
  })

  it('says nothing when the content itself differs', () => {
    const other = TEXT.replace('x = 1', 'x = 2')
    expect(causes(TEXT, 'tdx', fieldValue(other, 'tdx'))).toEqual([])
  })
})

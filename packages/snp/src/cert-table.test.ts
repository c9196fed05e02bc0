import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, type InitguardError } from '@initguard/core'
import {
  buildCertTable,
  CERT_TABLE_GUIDS,
  parseCertTable,
  parseExtendedReport,
  type CertTableEntryInput,
} from './cert-table.ts'
import { SNP_REPORT_SIZE } from './report.ts'

const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const read = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** A raw table: 24-byte headers as given, then `payload` bytes (for building faulty tables). */
function rawTable(headers: readonly [string, number, number][], size: number): Uint8Array {
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  headers.forEach(([guid, offset, length], i) => {
    const hex = guid.replaceAll('-', '')
    for (let j = 0; j < 16; j++) out[i * 24 + j] = Number.parseInt(hex.slice(2 * j, 2 * j + 2), 16)
    view.setUint32(i * 24 + 16, offset, true)
    view.setUint32(i * 24 + 20, length, true)
  })
  return out
}

const OTHER_GUID = 'ecae0c0f-9502-43b1-afa2-0ae2e0d565b6'
const NIL = '00000000-0000-0000-0000-000000000000'

describe('parseCertTable', () => {
  it('reads GUIDs in RFC 4122 byte order and names the known ones', () => {
    const table = rawTable(
      [
        [CERT_TABLE_GUIDS.vcek, 144, 3],
        [CERT_TABLE_GUIDS.vlek, 147, 1],
        [CERT_TABLE_GUIDS.ask, 148, 1],
        [CERT_TABLE_GUIDS.ark, 149, 1],
        [OTHER_GUID, 150, 2],
      ],
      152,
    )
    // The VCEK GUID's first bytes as they sit in the table: 63 da 75 8d (not mixed-endian).
    expect([...table.subarray(0, 4)]).toEqual([0x63, 0xda, 0x75, 0x8d])
    table.set([1, 2, 3, 4, 5, 6, 7, 8], 144)
    const entries = parseCertTable(table)
    expect(entries.map((e) => e.kind)).toEqual(['vcek', 'vlek', 'ask', 'ark', 'other'])
    expect(entries[0]?.guid).toBe('63da758d-e664-4564-adc5-f4b93be8accd')
    expect(entries[4]?.guid).toBe(OTHER_GUID)
    expect(entries.map((e) => [...e.data])).toEqual([[1, 2, 3], [4], [5], [6], [7, 8]])
  })

  it('knows the CRL GUID', () => {
    const table = rawTable([[CERT_TABLE_GUIDS.crl, 48, 1]], 49)
    expect(parseCertTable(table)[0]?.kind).toBe('crl')
  })

  it('accepts an empty table and ignores slack after the payloads', () => {
    expect(parseCertTable(new Uint8Array(24))).toEqual([])
    expect(parseCertTable(new Uint8Array(4096))).toEqual([])
    const padded = new Uint8Array(4096)
    padded.set(buildCertTable([{ kind: 'vcek', data: Uint8Array.of(9) }]))
    expect(parseCertTable(padded)).toHaveLength(1)
  })

  it('accepts payloads in any order and an entry that ends exactly at the end', () => {
    const table = rawTable(
      [
        [CERT_TABLE_GUIDS.ask, 80, 4],
        [CERT_TABLE_GUIDS.vcek, 72, 8],
      ],
      84,
    )
    expect(parseCertTable(table).map((e) => [e.kind, e.data.length])).toEqual([
      ['ask', 4],
      ['vcek', 8],
    ])
  })

  it('returns private copies', () => {
    const table = buildCertTable([{ kind: 'ark', data: Uint8Array.of(1, 2) }])
    const [entry] = parseCertTable(table)
    table.fill(0xff)
    expect([...(entry?.data ?? [])]).toEqual([1, 2])
  })

  it('refuses a table without a terminator, including the empty buffer and a cut-off entry', () => {
    for (const bytes of [
      new Uint8Array(0),
      new Uint8Array(23),
      rawTable([[CERT_TABLE_GUIDS.vcek, 48, 1]], 24),
      rawTable([[CERT_TABLE_GUIDS.vcek, 48, 1]], 47),
    ]) {
      expect(thrown(() => parseCertTable(bytes)).code).toBe('ERR_SNP_CERT_TABLE_UNTERMINATED')
    }
    // All entries non-zero GUIDs, the buffer ends on an entry boundary: no terminator.
    const full = rawTable(
      [
        [CERT_TABLE_GUIDS.vcek, 0, 1],
        [CERT_TABLE_GUIDS.ask, 0, 1],
      ],
      48,
    )
    expect(thrown(() => parseCertTable(full)).code).toBe('ERR_SNP_CERT_TABLE_UNTERMINATED')
  })

  it('refuses a zero-GUID entry that is not all zero', () => {
    for (const [offset, length] of [
      [48, 0],
      [0, 5],
    ] as const) {
      const e = thrown(() => parseCertTable(rawTable([[NIL, offset, length]], 64)))
      expect(e.code).toBe('ERR_SNP_CERT_TABLE_TERMINATOR')
    }
  })

  it('refuses an empty entry', () => {
    const e = thrown(() => parseCertTable(rawTable([[CERT_TABLE_GUIDS.vcek, 48, 0]], 64)))
    expect(e.code).toBe('ERR_SNP_CERT_TABLE_ENTRY_EMPTY')
    expect(e.details).toMatchObject({ entry: 0 })
  })

  it('refuses an entry that points into the header (entries and terminator)', () => {
    for (const offset of [0, 24, 47]) {
      const e = thrown(() => parseCertTable(rawTable([[CERT_TABLE_GUIDS.vcek, offset, 1]], 64)))
      expect(e.code).toBe('ERR_SNP_CERT_TABLE_ENTRY_OFFSET')
    }
    // With two entries the header is 72 bytes.
    const two = rawTable(
      [
        [CERT_TABLE_GUIDS.vcek, 72, 1],
        [CERT_TABLE_GUIDS.ask, 60, 1],
      ],
      80,
    )
    expect(thrown(() => parseCertTable(two)).details).toMatchObject({ entry: 1 })
  })

  it('refuses an entry that runs past the end, without integer overflow', () => {
    for (const [offset, length] of [
      [48, 17],
      [64, 1],
      [100, 1],
      [48, 0xffffffff],
      [0xffffffff, 0xffffffff],
      [0xfffffff0, 0x20],
    ] as const) {
      const e = thrown(() =>
        parseCertTable(rawTable([[CERT_TABLE_GUIDS.vcek, offset, length]], 64)),
      )
      expect(e.code, `${offset}+${length}`).toBe('ERR_SNP_CERT_TABLE_ENTRY_RANGE')
    }
  })

  it('refuses overlapping entries', () => {
    const cases: [number, number, number, number][] = [
      [72, 8, 79, 1], // second starts inside the first
      [72, 8, 72, 8], // same range
      [76, 2, 72, 8], // first inside the second
      [72, 8, 70 + 2, 1], // starts at the same byte
    ]
    for (const [o1, l1, o2, l2] of cases) {
      const table = rawTable(
        [
          [CERT_TABLE_GUIDS.vcek, o1, l1],
          [CERT_TABLE_GUIDS.ask, o2, l2],
        ],
        96,
      )
      expect(thrown(() => parseCertTable(table)).code).toBe('ERR_SNP_CERT_TABLE_ENTRY_OVERLAP')
    }
    // Adjacent is fine.
    const adjacent = rawTable(
      [
        [CERT_TABLE_GUIDS.vcek, 72, 8],
        [CERT_TABLE_GUIDS.ask, 80, 8],
      ],
      96,
    )
    expect(parseCertTable(adjacent)).toHaveLength(2)
  })

  it('refuses a GUID that appears twice', () => {
    const table = rawTable(
      [
        [CERT_TABLE_GUIDS.vcek, 72, 1],
        [CERT_TABLE_GUIDS.vcek, 73, 1],
      ],
      80,
    )
    expect(thrown(() => parseCertTable(table)).code).toBe('ERR_SNP_CERT_TABLE_DUPLICATE_GUID')
  })

  it('refuses what is not a Uint8Array', () => {
    expect(thrown(() => parseCertTable('table' as unknown as Uint8Array)).code).toBe(
      'ERR_SNP_INPUT_TYPE',
    )
  })
})

describe('buildCertTable', () => {
  const entryArb: fc.Arbitrary<CertTableEntryInput> = fc.oneof(
    fc.record({
      kind: fc.constantFrom('vcek', 'vlek', 'ask', 'ark', 'crl'),
      data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
    fc.record({
      kind: fc.constant('other'),
      guid: fc.uuid().filter((g) => !Object.values(CERT_TABLE_GUIDS).includes(g) && g !== NIL),
      data: fc.uint8Array({ minLength: 1, maxLength: 64 }),
    }),
  )

  it('round-trips through parseCertTable', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(entryArb, {
          maxLength: 8,
          selector: (e) => (e.kind === 'other' ? e.guid : e.kind),
        }),
        (entries) => {
          const parsed = parseCertTable(buildCertTable(entries))
          expect(parsed.map((e) => e.kind)).toEqual(entries.map((e) => e.kind))
          expect(parsed.map((e) => e.data)).toEqual(entries.map((e) => e.data))
          parsed.forEach((e, i) => {
            const input = entries[i]
            expect(e.guid).toBe(
              input?.kind === 'other' || input === undefined
                ? input?.guid
                : CERT_TABLE_GUIDS[input.kind],
            )
          })
          // And the parsed entries build the same table again.
          expect(buildCertTable(parsed)).toEqual(buildCertTable(entries))
        },
      ),
    )
  })

  it('writes the documented layout', () => {
    const table = buildCertTable([
      { kind: 'vcek', data: Uint8Array.of(0xaa, 0xbb) },
      { kind: 'other', guid: OTHER_GUID.toUpperCase(), data: Uint8Array.of(0xcc) },
    ])
    expect(table.length).toBe(3 * 24 + 3)
    const view = new DataView(table.buffer)
    expect([view.getUint32(16, true), view.getUint32(20, true)]).toEqual([72, 2])
    expect([view.getUint32(40, true), view.getUint32(44, true)]).toEqual([74, 1])
    expect([...table.subarray(48, 72)]).toEqual(new Array<number>(24).fill(0))
    expect([...table.subarray(72)]).toEqual([0xaa, 0xbb, 0xcc])
    expect(parseCertTable(table)[1]?.guid).toBe(OTHER_GUID)
  })

  it('writes an empty table as the terminator alone', () => {
    expect(buildCertTable([])).toEqual(new Uint8Array(24))
  })

  it('refuses entries it cannot write faithfully', () => {
    const data = Uint8Array.of(1)
    const bad: CertTableEntryInput[][] = [
      [{ kind: 'vcek', data: new Uint8Array(0) }],
      [{ kind: 'vcek', data: [1] as unknown as Uint8Array }],
      [{ kind: 'other', data }],
      [{ kind: 'other', guid: 'not-a-guid', data }],
      [{ kind: 'other', guid: NIL, data }],
      [{ kind: 'other', guid: CERT_TABLE_GUIDS.vcek, data }],
      [{ kind: 'vcek', guid: CERT_TABLE_GUIDS.ask, data }],
      [{ kind: 'nope' as 'vcek', data }],
      [{ kind: 'toString' as 'vcek', data }],
      [
        { kind: 'vcek', data },
        { kind: 'vcek', data },
      ],
      [
        { kind: 'other', guid: OTHER_GUID, data },
        { kind: 'other', guid: OTHER_GUID.toUpperCase(), data },
      ],
    ]
    for (const entries of bad) {
      const e = thrown(() => buildCertTable(entries))
      expect(e.code).toBe('ERR_SNP_CERT_TABLE_ENTRY_INVALID')
      expect(e.category).toBe('usage')
    }
    // A table past 4 GiB cannot be addressed by u32 offsets (checked before allocating anything).
    const huge = Object.defineProperty(Object.create(Uint8Array.prototype), 'length', {
      value: 2 ** 32,
    }) as Uint8Array
    expect(thrown(() => buildCertTable([{ kind: 'vcek', data: huge }])).details).toMatchObject({
      length: 2 ** 32 + 48,
    })
    // A matching GUID on a known kind is fine.
    expect(() =>
      buildCertTable([{ kind: 'vcek', guid: CERT_TABLE_GUIDS.vcek, data }]),
    ).not.toThrow()
  })
})

describe('parseExtendedReport', () => {
  const report = read('milan-v3-hostdata/report.bin')
  const vcek = new Uint8Array(readFileSync(new URL('milan-v2-a/vcek.der', VECTORS)))

  function concat(...parts: Uint8Array[]): Uint8Array {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const p of parts) {
      out.set(p, at)
      at += p.length
    }
    return out
  }

  it('splits the report from its certificate table', () => {
    const blob = concat(report, buildCertTable([{ kind: 'vcek', data: vcek }]), new Uint8Array(100))
    const { report: parsed, certificates } = parseExtendedReport(blob)
    expect(parsed.raw).toEqual(report)
    expect(certificates).toHaveLength(1)
    expect(certificates[0]?.kind).toBe('vcek')
    expect(certificates[0]?.data).toEqual(vcek)
  })

  it('accepts an empty table', () => {
    expect(parseExtendedReport(concat(report, new Uint8Array(24))).certificates).toEqual([])
  })

  it('needs the table: a bare report is not an extended report', () => {
    expect(thrown(() => parseExtendedReport(report)).code).toBe('ERR_SNP_CERT_TABLE_UNTERMINATED')
  })

  it('refuses a blob shorter than the report', () => {
    for (const length of [0, 1, SNP_REPORT_SIZE - 1]) {
      expect(thrown(() => parseExtendedReport(report.subarray(0, length))).code).toBe(
        'ERR_SNP_REPORT_TRUNCATED',
      )
    }
  })

  it('passes on report and table errors', () => {
    const badVersion = report.slice()
    badVersion[0] = 1
    expect(thrown(() => parseExtendedReport(concat(badVersion, new Uint8Array(24)))).code).toBe(
      'ERR_SNP_REPORT_VERSION',
    )
    const badTable = rawTable([[CERT_TABLE_GUIDS.vcek, 48, 100]], 64)
    expect(thrown(() => parseExtendedReport(concat(report, badTable))).code).toBe(
      'ERR_SNP_CERT_TABLE_ENTRY_RANGE',
    )
    expect(thrown(() => parseExtendedReport({} as Uint8Array)).code).toBe('ERR_SNP_INPUT_TYPE')
  })
})

describe('certificate table properties', () => {
  const report = read('milan-v2-a/report.bin')

  function throwsOnlyOurs(fn: () => unknown): void {
    try {
      fn()
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }

  it('parseCertTable throws nothing but InitguardError for any byte string', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        throwsOnlyOurs(() => parseCertTable(bytes))
      }),
      { numRuns: 300 },
    )
  })

  it('parseCertTable throws nothing but InitguardError for tables with random small headers', () => {
    const guid = fc.constantFrom(NIL, OTHER_GUID, ...Object.values(CERT_TABLE_GUIDS))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(guid, fc.nat({ max: 200 }), fc.nat({ max: 200 })), { maxLength: 6 }),
        fc.nat({ max: 256 }),
        (headers, size) => {
          throwsOnlyOurs(() => {
            const entries = parseCertTable(rawTable(headers, Math.max(size, headers.length * 24)))
            for (const e of entries) expect(e.data.length).toBeGreaterThan(0)
          })
        },
      ),
      { numRuns: 500 },
    )
  })

  it('parseExtendedReport throws nothing but InitguardError for any byte string', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 200 }),
        fc.boolean(),
        fc.array(fc.tuple(fc.nat({ max: 0x4a0 + 199 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 6,
        }),
        (tail, withReport, edits) => {
          const bytes = new Uint8Array((withReport ? SNP_REPORT_SIZE : 0) + tail.length)
          if (withReport) bytes.set(report, 0)
          bytes.set(tail, withReport ? SNP_REPORT_SIZE : 0)
          for (const [at, value] of edits) if (at < bytes.length) bytes[at] = value
          throwsOnlyOurs(() => parseExtendedReport(bytes))
        },
      ),
      { numRuns: 300 },
    )
  })
})

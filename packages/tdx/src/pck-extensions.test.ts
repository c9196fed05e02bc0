/** The SGX extension of the real PCK certificates in the vectors, and property tests. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import {
  bytesToHex,
  decodeDerExplicit,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  isInitguardError,
  parseDer,
} from '@initguard/core'
import type { PckCertChainData } from './certification-data.ts'
import {
  classifyPckIssuer,
  parsePckCertificate,
  parseSgxPckExtensions,
  SGX_EXTENSION_OID,
} from './pck-extensions.ts'
import { parseDcapQuote } from './quote.ts'
import { VECTORS, thrown } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const hex = bytesToHex
const OID = SGX_EXTENSION_OID

function chainOf(path: string): PckCertChainData {
  const pck = parseDcapQuote(vector(path)).signatureData.pckCertification
  if (pck.kind !== 'pck-cert-chain') throw new Error('expected an embedded chain')
  return pck
}

function leafOf(path: string): Uint8Array {
  const [leaf] = chainOf(path).certificates
  if (leaf === undefined) throw new Error('empty chain')
  return leaf.der
}

/** The extnValue of the SGX extension of a certificate, found with the DER reader. */
function sgxExtensionValue(der: Uint8Array): Uint8Array {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  const fields = decodeDerSequence(tbs, 'tbs')
  const extensions = decodeDerSequence(decodeDerExplicit(fields[7], 3, 'ext'), 'extensions')
  for (const extension of extensions) {
    const parts = decodeDerSequence(extension, 'extension')
    if (decodeDerOid(parts[0], 'id') === OID) return decodeDerOctetString(parts.at(-1), 'value')
  }
  throw new Error('no SGX extension')
}

describe('parsePckCertificate on the real PCK certificates', () => {
  it('reads FMSPC and the issuing CA of each quote (README: 50806f000000 / b0c06f000000 / 00a067110000, Platform vs Processor CA)', () => {
    const expected = [
      ['tdx/spr-v4/quote.dat', '50806f000000', 'platform'],
      ['tdx/v4-b/quote.dat', 'b0c06f000000', 'platform'],
      ['tdx/v4-claims/quote.dat', '50806f000000', 'platform'],
      ['sgx/v3-a/quote.dat', '00a067110000', 'processor'],
      ['sgx/v3-b/quote.dat', '00606a000000', 'platform'],
    ] as const
    for (const [path, fmspc, ca] of expected) {
      const info = parsePckCertificate(leafOf(path))
      expect(hex(info.sgx.fmspc), path).toBe(fmspc)
      expect(info.issuerCa, path).toBe(ca)
      expect(info.subjectCommonName).toBe('Intel SGX PCK Certificate')
      expect(info.issuerCommonName).toBe(
        ca === 'platform' ? 'Intel SGX PCK Platform CA' : 'Intel SGX PCK Processor CA',
      )
      expect(hex(info.sgx.pceId)).toBe('0000')
      expect(info.sgx.ppid.length).toBe(16)
      expect(info.sgx.unknownOids).toEqual([])
    }
  })

  it('spr-v4: full TCB, scalable SGX, platform instance ID and configuration flags', () => {
    const { sgx } = parsePckCertificate(leafOf('tdx/spr-v4/quote.dat'))
    expect(sgx.tcb.cpuSvnComponents).toEqual([3, 3, 2, 2, 2, 1, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0])
    expect(sgx.tcb.pceSvn).toBe(11)
    expect(hex(sgx.tcb.cpuSvn)).toBe('03030202020100020000000000000000')
    expect(sgx.sgxType).toBe('scalable')
    expect(sgx.sgxTypeCode).toBe(1)
    expect(hex(sgx.platformInstanceId ?? new Uint8Array())).toBe('8c314d17d205dfafcbecbb00fc87eff7')
    expect(sgx.configuration).toEqual({
      dynamicPlatform: true,
      cachedKeys: false,
      smtEnabled: true,
    })
  })

  it('v3-a (Processor CA): standard SGX, no platform instance ID, no configuration', () => {
    const { sgx } = parsePckCertificate(leafOf('sgx/v3-a/quote.dat'))
    expect(sgx.sgxType).toBe('standard')
    expect(sgx.tcb.pceSvn).toBe(13)
    expect(sgx.tcb.cpuSvnComponents.slice(0, 6)).toEqual([11, 11, 2, 2, 255, 1])
    expect(sgx.platformInstanceId).toBeUndefined()
    expect(sgx.configuration).toBeUndefined()
  })

  it('classifies the intermediate by its subject CN and finds no SGX extension in CA certificates', () => {
    for (const path of ['tdx/spr-v4/quote.dat', 'sgx/v3-a/quote.dat']) {
      const [, intermediate, root] = chainOf(path).certificates
      for (const ca of [intermediate, root]) {
        const error = thrown(() => parsePckCertificate(ca?.der ?? new Uint8Array()))
        expect(error.code).toBe('ERR_TDX_PCK_EXTENSION_MISSING')
      }
    }
    expect(classifyPckIssuer('Intel SGX PCK Platform CA')).toBe('platform')
    expect(classifyPckIssuer('Intel SGX PCK Processor CA')).toBe('processor')
    for (const other of [
      'Intel SGX Root CA',
      'intel sgx pck platform ca',
      ' Intel SGX PCK Platform CA',
      '',
      undefined,
    ]) {
      expect(classifyPckIssuer(other)).toBe('unknown')
    }
  })

  it('parseSgxPckExtensions reads the extension value of a real certificate alone', () => {
    const value = sgxExtensionValue(leafOf('tdx/v4-b/quote.dat'))
    expect(hex(parseSgxPckExtensions(value).fmspc)).toBe('b0c06f000000')
  })
})

describe('PCK parsers properties', () => {
  const check = (fn: () => unknown): void => {
    try {
      fn()
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }
  const realLeaf = leafOf('tdx/spr-v4/quote.dat')
  const realValue = sgxExtensionValue(realLeaf)

  it('throws nothing but InitguardError for any bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        check(() => parsePckCertificate(bytes))
        check(() => parseSgxPckExtensions(bytes))
      }),
      { numRuns: 1000 },
    )
  })

  it('throws nothing but InitguardError for mutated or cut real certificates and extension values', () => {
    const edits = fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), {
      minLength: 1,
      maxLength: 4,
    })
    fc.assert(
      fc.property(edits, fc.option(fc.nat()), (changes, cut) => {
        for (const base of [realLeaf, realValue]) {
          const bytes = base.slice(0, cut === null ? base.length : 1 + (cut % base.length))
          for (const [at, value] of changes) bytes[at % bytes.length] = value
          check(() => parsePckCertificate(bytes))
          check(() => parseSgxPckExtensions(bytes))
        }
      }),
      { numRuns: 1500 },
    )
  })
})

import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { bytesToHex, decodeDerOctetString, decodeDerSequence, parseDer } from '@initguard/core'
import { parseSgxPckExtensions } from '@initguard/tdx'
import {
  DEFAULT_PCK_TCB,
  encodeSgxPckExtension,
  INTEL_COMMON_NAME,
  INTEL_CRL_URL,
  INTEL_SGX_EXTENSION_OID,
  intelCertificateExtensions,
  intelName,
} from './intel-cert-profile.ts'
import type { SgxPckExtensionFields } from './intel-cert-profile.ts'
import { certificateExtensions, pemBlocks, tbsField, thrown } from './intel-test-support.ts'
import { encodeX509Extension, encodeX509Name, X509_EXTENSION_OID } from './x509-builder.ts'

// Real Intel certificates from testdata/vectors (byte-identical copies of the shared vectors).
const VECTORS = new URL('../../../testdata/vectors/', import.meta.url)
const derOf = (pem: string): Uint8Array => new Uint8Array(new X509Certificate(pem).raw)
const quoteChain = (path: string): Uint8Array[] =>
  pemBlocks(new Uint8Array(readFileSync(new URL(path, VECTORS)))).map(derOf)

// TDX v4 quote: PCK by the Platform CA. SGX v3 quote: PCK by the Processor CA.
const [platformPck, platformCa, root] = quoteChain('tdx/v4-b/quote.dat') as [
  Uint8Array,
  Uint8Array,
  Uint8Array,
]
const [processorPck, processorCa] = quoteChain('sgx/v3-a/quote.dat') as [Uint8Array, Uint8Array]
const [tcbSigning] = pemBlocks(
  readFileSync(new URL('tdx/spr-v4/tcb-signing-chain.pem', VECTORS), 'latin1'),
).map(derOf) as [Uint8Array]

function sgxExtensionOf(der: Uint8Array): Uint8Array {
  const found = certificateExtensions(der).find((e) => e.oid === INTEL_SGX_EXTENSION_OID.sgx)
  if (found === undefined) throw new Error('no SGX extension')
  return found.value
}

/** The fields of a real SGX extension, decoded by @initguard/tdx (independently of the encoder). */
function fieldsOf(value: Uint8Array): SgxPckExtensionFields {
  const sgx = parseSgxPckExtensions(value)
  return {
    ppid: sgx.ppid,
    fmspc: sgx.fmspc,
    pceId: sgx.pceId,
    cpuSvnComponents: [...sgx.tcb.cpuSvnComponents],
    pceSvn: sgx.tcb.pceSvn,
    cpuSvn: sgx.tcb.cpuSvn,
    sgxType: sgx.sgxTypeCode,
    platformInstanceId: sgx.platformInstanceId ?? null,
    configuration:
      sgx.configuration === undefined
        ? null
        : {
            ...(sgx.configuration.dynamicPlatform === undefined
              ? {}
              : { dynamicPlatform: sgx.configuration.dynamicPlatform }),
            ...(sgx.configuration.cachedKeys === undefined
              ? {}
              : { cachedKeys: sgx.configuration.cachedKeys }),
            ...(sgx.configuration.smtEnabled === undefined
              ? {}
              : { smtEnabled: sgx.configuration.smtEnabled }),
          },
  }
}

/** The key identifier inside a real certificate's SKI extension. */
function subjectKeyIdOf(der: Uint8Array): Uint8Array {
  const ski = certificateExtensions(der).find(
    (e) => e.oid === X509_EXTENSION_OID.subjectKeyIdentifier,
  )
  if (ski === undefined) throw new Error('no SKI')
  return decodeDerOctetString(parseDer(ski.value), 'ski')
}

function authorityKeyIdOf(der: Uint8Array): Uint8Array {
  const aki = certificateExtensions(der).find(
    (e) => e.oid === X509_EXTENSION_OID.authorityKeyIdentifier,
  )
  if (aki === undefined) throw new Error('no AKI')
  const [keyId] = decodeDerSequence(parseDer(aki.value), 'aki')
  if (keyId === undefined) throw new Error('empty AKI')
  return keyId.value
}

describe('encodeSgxPckExtension against real PCK certificates', () => {
  it('reproduces a Platform CA PCK extension byte for byte (.6 PlatformInstanceID, .7 flags)', () => {
    const real = sgxExtensionOf(platformPck)
    const fields = fieldsOf(real)
    expect(fields.sgxType).toBe(1)
    expect(fields.platformInstanceId).not.toBeNull()
    expect(bytesToHex(encodeSgxPckExtension(fields))).toBe(bytesToHex(real))
  })

  it('reproduces a Processor CA PCK extension byte for byte (SVN 255 as 02 02 00 ff)', () => {
    const real = sgxExtensionOf(processorPck)
    const fields = fieldsOf(real)
    expect(fields.cpuSvnComponents).toContain(255)
    expect(fields.platformInstanceId).toBeNull()
    expect(bytesToHex(real)).toContain('0202' + '00ff')
    expect(bytesToHex(encodeSgxPckExtension(fields))).toBe(bytesToHex(real))
    // CPUSVN defaults to the components as bytes, as in Intel's certificates.
    const { cpuSvn: _cpuSvn, ...rest } = fields
    expect(bytesToHex(encodeSgxPckExtension(rest))).toBe(bytesToHex(real))
  })

  it('writes only the configuration flags given, and nothing for null', () => {
    const base = { ...DEFAULT_PCK_TCB, ppid: new Uint8Array(16), sgxType: 1 }
    const one = parseSgxPckExtensions(
      encodeSgxPckExtension({ ...base, configuration: { smtEnabled: false } }),
    )
    expect(one.configuration).toEqual({
      dynamicPlatform: undefined,
      cachedKeys: undefined,
      smtEnabled: false,
    })
    const none = parseSgxPckExtensions(
      encodeSgxPckExtension({ ...base, configuration: null, platformInstanceId: null }),
    )
    expect(none.configuration).toBeUndefined()
    expect(none.platformInstanceId).toBeUndefined()
    expect(none.unknownOids).toEqual([])
  })

  it('refuses fields of the wrong size or range', () => {
    const base = { ...DEFAULT_PCK_TCB, ppid: new Uint8Array(16), sgxType: 0 }
    const cases: [Partial<SgxPckExtensionFields>, string][] = [
      [{ ppid: new Uint8Array(15) }, 'ppid'],
      [{ fmspc: new Uint8Array(7) }, 'fmspc'],
      [{ pceId: new Uint8Array(1) }, 'pceId'],
      [{ cpuSvn: new Uint8Array(8) }, 'cpuSvn'],
      [{ cpuSvnComponents: [1, 2, 3] }, 'cpuSvnComponents'],
      [
        { cpuSvnComponents: [...DEFAULT_PCK_TCB.cpuSvnComponents.slice(1), 256] },
        'cpuSvnComponents[15]',
      ],
      [{ pceSvn: 65536 }, 'pceSvn'],
      [{ sgxType: -1 }, 'sgxType'],
      [{ platformInstanceId: new Uint8Array(4) }, 'platformInstanceId'],
    ]
    for (const [patch, field] of cases) {
      const e = thrown(() => encodeSgxPckExtension({ ...base, ...patch }))
      expect(e.code).toBe('ERR_INTEL_PKI_FIELD_INVALID')
      expect(e.details['field']).toBe(field)
    }
  })
})

describe('Intel names and standard extensions against real certificates', () => {
  it('encodes the names byte for byte', () => {
    expect(bytesToHex(encodeX509Name(intelName(INTEL_COMMON_NAME.root)))).toBe(
      bytesToHex(tbsField(root, 5)),
    )
    expect(bytesToHex(encodeX509Name(intelName(INTEL_COMMON_NAME.platform)))).toBe(
      bytesToHex(tbsField(platformCa, 5)),
    )
    expect(bytesToHex(encodeX509Name(intelName(INTEL_COMMON_NAME.processor)))).toBe(
      bytesToHex(tbsField(processorCa, 5)),
    )
    expect(bytesToHex(encodeX509Name(intelName(INTEL_COMMON_NAME.tcbSigning)))).toBe(
      bytesToHex(tbsField(tcbSigning, 5)),
    )
    expect(bytesToHex(encodeX509Name(intelName(INTEL_COMMON_NAME.pck)))).toBe(
      bytesToHex(tbsField(platformPck, 5)),
    )
  })

  it('encodes the extension lists byte for byte, given the real key identifiers', () => {
    const cases: [Uint8Array, string, { pathLength: number } | undefined, number][] = [
      [root, INTEL_CRL_URL.root, { pathLength: 1 }, 5],
      [platformCa, INTEL_CRL_URL.root, { pathLength: 0 }, 5],
      [processorCa, INTEL_CRL_URL.root, { pathLength: 0 }, 5],
      [tcbSigning, INTEL_CRL_URL.root, undefined, 5],
      [platformPck, INTEL_CRL_URL.platform, undefined, 6],
      [processorPck, INTEL_CRL_URL.processor, undefined, 6],
    ]
    for (const [der, url, ca, count] of cases) {
      const real = certificateExtensions(der)
      expect(real).toHaveLength(count)
      const built = intelCertificateExtensions(authorityKeyIdOf(der), url, subjectKeyIdOf(der), ca)
      expect(built.map((e) => bytesToHex(encodeX509Extension(e)))).toEqual(
        real.slice(0, 5).map((e) => bytesToHex(e.encoded)),
      )
    }
  })
})

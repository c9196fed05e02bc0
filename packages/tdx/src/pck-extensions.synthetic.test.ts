/** The SGX extension parsers on synthetic extensions and certificates built with the test kit. */
import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import {
  X509_NAME_OID,
  buildX509Certificate,
  derBitString,
  derBoolean,
  derEnumerated,
  derExplicit,
  derInteger,
  derOctetString,
  derOid,
  derPrintableString,
  derSequence,
  derSet,
  derTime,
  derUtf8String,
  encodeSignatureAlgorithm,
  encodeX509Name,
  subjectPublicKeyInfoDer,
} from '@initguard/tee-simulator'
import type { X509Extension, X509Name } from '@initguard/tee-simulator'
import { parsePckCertificate, parseSgxPckExtensions, SGX_EXTENSION_OID } from './pck-extensions.ts'
import { filled, thrown } from './quote-test-support.ts'

const hex = bytesToHex
const OID = SGX_EXTENSION_OID

// --- synthetic extensions ---------------------------------------------------------------------

const pair = (oid: string, value: Uint8Array): Uint8Array => derSequence([derOid(oid), value])

interface ExtensionParts {
  readonly ppid?: Uint8Array | null
  readonly tcb?: Uint8Array | null
  readonly pceId?: Uint8Array | null
  readonly fmspc?: Uint8Array | null
  readonly sgxType?: Uint8Array | null
  readonly extra?: readonly Uint8Array[]
}

function tcbValue(
  svns: readonly (number | bigint)[] = Array.from({ length: 16 }, (_, i) => i),
  pceSvn: number | bigint = 13,
  cpuSvn: Uint8Array = filled(16, 0x0b),
  extra: readonly Uint8Array[] = [],
): Uint8Array {
  return derSequence([
    ...svns.map((svn, i) => pair(`${OID}.2.${i + 1}`, derInteger(svn))),
    pair(`${OID}.2.17`, derInteger(pceSvn)),
    pair(`${OID}.2.18`, derOctetString(cpuSvn)),
    ...extra,
  ])
}

function extensionValue(parts: ExtensionParts = {}): Uint8Array {
  const entries: Uint8Array[] = []
  const add = (arc: number, value: Uint8Array | null | undefined, fallback: Uint8Array): void => {
    if (value !== null) entries.push(pair(`${OID}.${arc}`, value ?? fallback))
  }
  add(1, parts.ppid, derOctetString(filled(16, 0x01)))
  add(2, parts.tcb, tcbValue())
  add(3, parts.pceId, derOctetString(filled(2, 0)))
  add(4, parts.fmspc, derOctetString(Uint8Array.of(0x50, 0x80, 0x6f, 0, 0, 0)))
  add(5, parts.sgxType, derEnumerated(0))
  return derSequence([...entries, ...(parts.extra ?? [])])
}

describe('parseSgxPckExtensions on synthetic extensions', () => {
  it('reads a minimal extension (no .6, no .7)', () => {
    const sgx = parseSgxPckExtensions(extensionValue())
    expect(sgx.tcb.cpuSvnComponents).toEqual(Array.from({ length: 16 }, (_, i) => i))
    expect(sgx.tcb.pceSvn).toBe(13)
    expect(sgx.sgxType).toBe('standard')
    expect(sgx.platformInstanceId).toBeUndefined()
    expect(sgx.configuration).toBeUndefined()
  })

  it('names SGX types 0–2 and reports others as unknown', () => {
    for (const [code, name] of [
      [0, 'standard'],
      [1, 'scalable'],
      [2, 'scalable-with-integrity'],
      [3, 'unknown'],
      [255, 'unknown'],
    ] as const) {
      const sgx = parseSgxPckExtensions(extensionValue({ sgxType: derEnumerated(code) }))
      expect([sgx.sgxType, sgx.sgxTypeCode]).toEqual([name, code])
    }
    for (const code of [-1, 256]) {
      expect(
        thrown(() => parseSgxPckExtensions(extensionValue({ sgxType: derEnumerated(code) }))).code,
      ).toBe('ERR_TDX_PCK_EXTENSION_INVALID')
    }
  })

  it('reads the configuration with any of its flags absent, and lists unknown OIDs everywhere', () => {
    const sgx = parseSgxPckExtensions(
      extensionValue({
        extra: [
          pair(`${OID}.6`, derOctetString(filled(16, 0x66))),
          pair(
            `${OID}.7`,
            derSequence([
              pair(`${OID}.7.2`, derBoolean(true)),
              pair(`${OID}.7.9`, derBoolean(true)),
            ]),
          ),
          pair(`${OID}.8`, derInteger(1)),
          pair('1.2.3.4', derInteger(1)),
        ],
        tcb: tcbValue(undefined, undefined, undefined, [pair(`${OID}.2.19`, derInteger(0))]),
      }),
    )
    expect(hex(sgx.platformInstanceId ?? new Uint8Array())).toBe('66'.repeat(16))
    expect(sgx.configuration).toEqual({
      dynamicPlatform: undefined,
      cachedKeys: true,
      smtEnabled: undefined,
    })
    // Top level first, then inside TCB, then inside Configuration.
    expect(sgx.unknownOids).toEqual([`${OID}.8`, '1.2.3.4', `${OID}.2.19`, `${OID}.7.9`])
  })

  it('refuses a missing required entry, naming it', () => {
    for (const [key, arc] of [
      ['ppid', '1'],
      ['tcb', '2'],
      ['pceId', '3'],
      ['fmspc', '4'],
      ['sgxType', '5'],
    ] as const) {
      const error = thrown(() => parseSgxPckExtensions(extensionValue({ [key]: null })))
      expect(error.code, key).toBe('ERR_TDX_PCK_EXTENSION_MISSING')
      expect(error.details).toMatchObject({ oid: `${OID}.${arc}` })
    }
    const svns = Array.from({ length: 15 }, () => 0)
    const noComponent = thrown(() => parseSgxPckExtensions(extensionValue({ tcb: tcbValue(svns) })))
    expect(noComponent.details).toMatchObject({ oid: `${OID}.2.16` })
  })

  it('refuses wrong lengths of PPID, PCE-ID, FMSPC, CPUSVN and PlatformInstanceID', () => {
    const cases: ExtensionParts[] = [
      { ppid: derOctetString(filled(15, 1)) },
      { pceId: derOctetString(filled(3, 0)) },
      { fmspc: derOctetString(filled(5, 0)) },
      { tcb: tcbValue(undefined, undefined, filled(17, 0)) },
      { extra: [pair(`${OID}.6`, derOctetString(filled(8, 0)))] },
    ]
    for (const parts of cases) {
      expect(thrown(() => parseSgxPckExtensions(extensionValue(parts))).code).toBe(
        'ERR_TDX_PCK_EXTENSION_INVALID',
      )
    }
  })

  it('refuses SVNs out of range (components 0–255, PCESVN 0–65535)', () => {
    const high = Array.from({ length: 16 }, (_, i) => (i === 4 ? 256 : 0))
    const negative = Array.from({ length: 16 }, (_, i) => (i === 0 ? -1 : 0))
    for (const tcb of [
      tcbValue(high),
      tcbValue(negative),
      tcbValue(undefined, 65536),
      tcbValue(undefined, -1),
    ]) {
      expect(thrown(() => parseSgxPckExtensions(extensionValue({ tcb }))).code).toBe(
        'ERR_TDX_PCK_EXTENSION_INVALID',
      )
    }
    expect(
      parseSgxPckExtensions(extensionValue({ tcb: tcbValue(undefined, 65535) })).tcb.pceSvn,
    ).toBe(65535)
  })

  it('refuses wrong value types with the DER reader codes', () => {
    for (const parts of [
      { ppid: derInteger(1) },
      { sgxType: derInteger(0) },
      { tcb: derOctetString(filled(4, 0)) },
      { extra: [pair(`${OID}.7`, derSequence([pair(`${OID}.7.1`, derInteger(1))]))] },
    ]) {
      const error = thrown(() => parseSgxPckExtensions(extensionValue(parts)))
      expect(error.code).toBe('ERR_DER_UNEXPECTED_TAG')
    }
    expect(
      thrown(() => parseSgxPckExtensions(extensionValue({ ppid: derUtf8String('ppid') }))).code,
    ).toBe('ERR_DER_UNEXPECTED_TAG')
  })

  it('refuses a repeated OID and an entry that is not an {OID, value} pair', () => {
    const repeated = extensionValue({ extra: [pair(`${OID}.4`, derOctetString(filled(6, 0)))] })
    const error = thrown(() => parseSgxPckExtensions(repeated))
    expect(error.code).toBe('ERR_TDX_PCK_EXTENSION_DUPLICATE')
    expect(error.details).toMatchObject({ oid: `${OID}.4` })
    const triple = extensionValue({
      extra: [derSequence([derOid(`${OID}.6`), derInteger(1), derInteger(2)])],
    })
    expect(thrown(() => parseSgxPckExtensions(triple)).code).toBe('ERR_TDX_PCK_EXTENSION_INVALID')
    expect(thrown(() => parseSgxPckExtensions(Uint8Array.of(0x30, 0x80))).code).toMatch(/^ERR_DER_/)
    expect(thrown(() => parseSgxPckExtensions(derInteger(1))).code).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(thrown(() => parseSgxPckExtensions('x' as unknown as Uint8Array)).code).toBe(
      'ERR_TDX_INPUT_TYPE',
    )
  })
})

// --- synthetic certificates -------------------------------------------------------------------

const issuerKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const subjectKey = generateKeyPairSync('ec', { namedCurve: 'P-256' })
const cn = (value: string, type?: 'printable'): X509Name => [
  { oid: X509_NAME_OID.commonName, value, ...(type === undefined ? {} : { type }) },
  { oid: X509_NAME_OID.organizationName, value: 'Intel Corporation' },
]

function certificate(
  extensions: readonly X509Extension[],
  issuer: X509Name = cn('Intel SGX PCK Processor CA'),
  subject: X509Name = cn('Intel SGX PCK Certificate'),
): Uint8Array {
  return buildX509Certificate(
    {
      serialNumber: 7n,
      issuer,
      subject,
      notBefore: new Date('2024-01-01T00:00:00Z'),
      notAfter: new Date('2031-01-01T00:00:00Z'),
      publicKey: subjectKey.publicKey,
      extensions,
      signatureAlgorithm: 'ecdsa-sha256',
    },
    issuerKey.privateKey,
  )
}

/** An SGX extension entry of a certificate's extension list. */
const sgxExtension = (value: Uint8Array = extensionValue()): Uint8Array =>
  derSequence([derOid(OID), derOctetString(value)])

/** A certificate assembled by hand (signature not valid: the parser does not check it). */
function rawCertificate(options: {
  readonly version?: boolean
  readonly issuer?: Uint8Array
  readonly extensions?: readonly Uint8Array[]
}): Uint8Array {
  const algorithm = encodeSignatureAlgorithm('ecdsa-sha256')
  const tbs = derSequence([
    ...(options.version === false ? [] : [derExplicit(0, derInteger(2))]),
    derInteger(1),
    algorithm,
    options.issuer ?? encodeX509Name(cn('Intel SGX PCK Processor CA')),
    derSequence([
      derTime(new Date('2024-01-01T00:00:00Z')),
      derTime(new Date('2031-01-01T00:00:00Z')),
    ]),
    encodeX509Name(cn('Intel SGX PCK Certificate')),
    subjectPublicKeyInfoDer(subjectKey.publicKey),
    ...(options.extensions === undefined ? [] : [derExplicit(3, derSequence(options.extensions))]),
  ])
  return derSequence([tbs, algorithm, derBitString(filled(8, 0))])
}

describe('parsePckCertificate on synthetic certificates', () => {
  it('finds the SGX extension among others, critical or not, and reads PrintableString names', () => {
    const der = certificate(
      [
        { oid: '2.5.29.19', critical: true, value: derSequence([]) },
        { oid: OID, critical: true, value: extensionValue() },
      ],
      cn('Intel SGX PCK Platform CA', 'printable'),
    )
    const info = parsePckCertificate(der)
    expect(info.issuerCa).toBe('platform')
    expect(hex(info.sgx.fmspc)).toBe('50806f000000')
  })

  it('reports names without a CN as undefined and an unknown issuer', () => {
    const info = parsePckCertificate(
      certificate(
        [{ oid: OID, value: extensionValue() }],
        [{ oid: X509_NAME_OID.organizationName, value: 'Someone' }],
      ),
    )
    expect(info.issuerCommonName).toBeUndefined()
    expect(info.issuerCa).toBe('unknown')
  })

  it('refuses a certificate without extensions, without the SGX extension, or with it twice', () => {
    expect(thrown(() => parsePckCertificate(certificate([]))).code).toBe(
      'ERR_TDX_PCK_EXTENSION_MISSING',
    )
    expect(
      thrown(() => parsePckCertificate(certificate([{ oid: '2.5.29.19', value: derSequence([]) }])))
        .code,
    ).toBe('ERR_TDX_PCK_EXTENSION_MISSING')
    const twice = certificate([
      { oid: OID, value: extensionValue() },
      { oid: OID, value: extensionValue() },
    ])
    expect(thrown(() => parsePckCertificate(twice)).code).toBe('ERR_TDX_PCK_EXTENSION_DUPLICATE')
  })

  it('refuses two common names, in two RDNs or in one multi-valued RDN', () => {
    const two: X509Name = [
      { oid: X509_NAME_OID.commonName, value: 'Intel SGX PCK Platform CA' },
      { oid: X509_NAME_OID.commonName, value: 'Intel SGX PCK Processor CA' },
    ]
    const error = thrown(() =>
      parsePckCertificate(certificate([{ oid: OID, value: extensionValue() }], two)),
    )
    expect(error.code).toBe('ERR_TDX_PCK_NAME_INVALID')
    expect(error.details).toMatchObject({ field: 'issuer' })
    const multi = derSequence([
      derSet([
        derSequence([derOid(X509_NAME_OID.commonName), derPrintableString('A')]),
        derSequence([derOid(X509_NAME_OID.commonName), derUtf8String('B')]),
      ]),
    ])
    const raw = rawCertificate({ issuer: multi, extensions: [sgxExtension()] })
    expect(thrown(() => parsePckCertificate(raw)).code).toBe('ERR_TDX_PCK_NAME_INVALID')
  })

  it('refuses an SGX extension entry with too few or too many elements', () => {
    for (const parts of [
      [derOid(OID)],
      [derOid(OID), derBoolean(false), derBoolean(false), derOctetString(extensionValue())],
    ]) {
      const raw = rawCertificate({ extensions: [derSequence(parts)] })
      const error = thrown(() => parsePckCertificate(raw))
      expect(error.code).toBe('ERR_TDX_PCK_EXTENSION_INVALID')
      expect(error.details).toMatchObject({ elements: parts.length })
    }
  })

  it('reads a certificate without the version field (positions shift by one)', () => {
    const raw = rawCertificate({ version: false, extensions: [sgxExtension()] })
    const info = parsePckCertificate(raw)
    expect(info.issuerCommonName).toBe('Intel SGX PCK Processor CA')
    expect(info.subjectCommonName).toBe('Intel SGX PCK Certificate')
  })

  it('refuses what is not DER with the DER reader codes, and non-Uint8Array input', () => {
    expect(thrown(() => parsePckCertificate(new Uint8Array(0))).code).toBe('ERR_DER_TRUNCATED')
    expect(thrown(() => parsePckCertificate(new TextEncoder().encode('-----BEGIN'))).code).toMatch(
      /^ERR_DER_/,
    )
    expect(thrown(() => parsePckCertificate(null as unknown as Uint8Array)).code).toBe(
      'ERR_TDX_INPUT_TYPE',
    )
  })
})

import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import {
  bytesToHex,
  decodeDerBoolean,
  decodeDerExplicit,
  decodeDerIa5String,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  decodeDerTime,
  isInitguardError,
  parseDer,
} from '@initguard/core'
import type { DerElement, InitguardError } from '@initguard/core'
import { AMD_EXTENSION_OID, amdName, createAmdTestPki } from './amd-pki.ts'
import type { AmdProduct, AmdTestPki, SnpTcbParts, TestKeyPair } from './amd-pki.ts'
import { encodeX509Name } from './x509-builder.ts'

// Real AMD certificates from testdata/vectors (byte-identical copies of the shared vectors).
const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)

/** A real certificate's DER, from a `.der` file or the first block of a `.pem` file. */
function readCert(path: string): Uint8Array {
  const data = readFileSync(new URL(path, VECTORS))
  return path.endsWith('.pem')
    ? new Uint8Array(new X509Certificate(data).raw)
    : new Uint8Array(data)
}

function readPemBundle(path: string): Uint8Array[] {
  const text = readFileSync(new URL(path, VECTORS), 'latin1')
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((pem) => new Uint8Array(new X509Certificate(pem).raw))
}

const hex = (b: Uint8Array): string => bytesToHex(b)

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an Initguard error')
}

function tbsFields(der: Uint8Array): readonly DerElement[] {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  return decodeDerSequence(tbs, 'tbs')
}

function tbsOf(der: Uint8Array): Uint8Array {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  if (tbs === undefined) throw new Error('no TBS')
  return tbs.encoded
}

function validityOf(der: Uint8Array): { notBefore: Date; notAfter: Date } {
  const [notBefore, notAfter] = decodeDerSequence(tbsFields(der)[4], 'validity')
  return { notBefore: decodeDerTime(notBefore, 'nb'), notAfter: decodeDerTime(notAfter, 'na') }
}

interface Ext {
  readonly oid: string
  readonly critical: boolean
  readonly value: Uint8Array
}

function extensionsOf(der: Uint8Array): Ext[] {
  const fields = tbsFields(der)
  const last = fields[fields.length - 1]
  if (last?.tagClass !== 'context') return []
  return decodeDerSequence(decodeDerExplicit(last, 3, 'ext'), 'ext').map((e) => {
    const parts = decodeDerSequence(e, 'e')
    return {
      oid: decodeDerOid(parts[0], 'oid'),
      critical: parts.length === 3 && decodeDerBoolean(parts[1], 'critical'),
      value: decodeDerOctetString(parts[parts.length - 1], 'value'),
    }
  })
}

function extValue(der: Uint8Array, oid: string): Uint8Array | undefined {
  return extensionsOf(der).find((e) => e.oid === oid)?.value
}

function extInt(der: Uint8Array, oid: string): number {
  const v = extValue(der, oid)
  if (v === undefined) throw new Error(`no ${oid}`)
  return Number(decodeDerInteger(parseDer(v), oid))
}

function tcbOf(der: Uint8Array, product: AmdProduct): SnpTcbParts {
  const base = {
    bootloader: extInt(der, AMD_EXTENSION_OID.blSpl),
    tee: extInt(der, AMD_EXTENSION_OID.teeSpl),
    snp: extInt(der, AMD_EXTENSION_OID.snpSpl),
    microcode: extInt(der, AMD_EXTENSION_OID.ucodeSpl),
  }
  return product === 'Turin' ? { ...base, fmc: extInt(der, AMD_EXTENSION_OID.fmcSpl) } : base
}

const tmp = mkdtempSync(join(tmpdir(), 'initguard-amd-pki-'))
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true })
})

function opensslVerify(root: string, intermediate: string, leaf: string, at: Date): string {
  const file = (n: string, pem: string): string => {
    const path = join(tmp, n)
    writeFileSync(path, pem)
    return path
  }
  return execFileSync('openssl', [
    'verify',
    '-attime',
    String(Math.floor(at.getTime() / 1000)),
    '-CAfile',
    file('root.pem', root),
    '-untrusted',
    file('intermediate.pem', intermediate),
    file('leaf.pem', leaf),
  ]).toString('latin1')
}

// RSA keys are generated once for the file: three RSA-2048 pairs take ~0.3–0.5 s on 2 cores.
const NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
const NOT_AFTER = new Date('2049-01-01T00:00:00Z')
const VCEK_NOT_AFTER = new Date('2031-01-01T00:00:00Z')
const CHECK_TIME = new Date('2026-06-01T00:00:00Z')
const milan = createAmdTestPki({
  product: 'Milan',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  withAsvk: true,
})
const reuse = { ark: milan.ark, ask: milan.ask, asvk: milan.asvk ?? milan.ask }
const turin = createAmdTestPki({
  product: 'Turin',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  keys: reuse,
  withAsvk: true,
})
const genoa = createAmdTestPki({
  product: 'Genoa',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  keys: reuse,
})
const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)
const TURIN_CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => (i < 8 ? 0xa0 + i : 0))
const MILAN_TCB: SnpTcbParts = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }
const TURIN_TCB: SnpTcbParts = { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }

function vcekOf(
  pki: AmdTestPki,
  chipId: Uint8Array,
  tcb: SnpTcbParts,
): ReturnType<AmdTestPki['issueVcek']> {
  return pki.issueVcek({ chipId, tcb, notBefore: NOT_BEFORE, notAfter: VCEK_NOT_AFTER })
}

describe('createAmdTestPki: the chain', () => {
  it('verifies ARK → ASK → VCEK with node:crypto and openssl', () => {
    const vcek = vcekOf(milan, CHIP_ID, MILAN_TCB)
    expect(milan.ark.x509.verify(milan.ark.publicKey)).toBe(true)
    expect(milan.ark.x509.checkIssued(milan.ark.x509)).toBe(true)
    expect(milan.ask.x509.verify(milan.ark.publicKey)).toBe(true)
    expect(milan.ask.x509.checkIssued(milan.ark.x509)).toBe(true)
    expect(vcek.x509.verify(milan.ask.publicKey)).toBe(true)
    expect(vcek.x509.checkIssued(milan.ask.x509)).toBe(true)
    expect(vcek.x509.verify(milan.ark.publicKey)).toBe(false)
    expect(opensslVerify(milan.ark.pem, milan.ask.pem, vcek.pem, CHECK_TIME)).toContain(
      'leaf.pem: OK',
    )
  })

  it('verifies ARK → ASVK → VLEK with node:crypto and openssl', () => {
    const asvk = milan.asvk
    if (asvk === undefined) throw new Error('no ASVK')
    const vlek = milan.issueVlek({
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
    })
    expect(asvk.x509.verify(milan.ark.publicKey)).toBe(true)
    expect(vlek.x509.verify(asvk.publicKey)).toBe(true)
    expect(vlek.x509.verify(milan.ask.publicKey)).toBe(false)
    expect(opensslVerify(milan.ark.pem, asvk.pem, vlek.pem, CHECK_TIME)).toContain('leaf.pem: OK')
  })

  it('names, numbers and bundles the certificates like AMD', () => {
    const amd = (cn: string): string =>
      `OU=Engineering\nC=US\nL=Santa Clara\nST=CA\nO=Advanced Micro Devices\nCN=${cn}`
    const vcek = vcekOf(milan, CHIP_ID, MILAN_TCB)
    const vlek = milan.issueVlek({
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
    })
    expect(milan.ark.x509.subject).toBe(amd('ARK-Milan'))
    expect(milan.ark.x509.issuer).toBe(amd('ARK-Milan'))
    expect(milan.ask.x509.subject).toBe(amd('SEV-Milan'))
    expect(milan.asvk?.x509.subject).toBe(amd('SEV-VLEK-Milan'))
    expect(vcek.x509.subject).toBe(amd('SEV-VCEK'))
    expect(vcek.x509.issuer).toBe(amd('SEV-Milan'))
    expect(vlek.x509.subject).toBe(amd('SEV-VLEK'))
    expect(vlek.x509.issuer).toBe(amd('SEV-VLEK-Milan'))
    expect([milan.ark, milan.ask, milan.asvk, vcek].map((c) => c?.x509.serialNumber)).toEqual([
      '010000',
      '010001',
      '010101',
      '0',
    ])
    expect(genoa.ask.x509.serialNumber).toBe('020002')
    expect(genoa.ark.x509.serialNumber).toBe('020000')
    expect(turin.asvk?.x509.serialNumber).toBe('030101')
    expect(milan.ark.x509.ca && milan.ask.x509.ca).toBe(true)
    expect(vcek.x509.ca).toBe(false)
    expect(vcek.publicKey.asymmetricKeyDetails?.namedCurve).toBe('secp384r1')
    expect(milan.ark.publicKey.asymmetricKeyType).toBe('rsa')
    expect(milan.vcekChainPem).toBe(milan.ask.pem + milan.ark.pem)
    expect(milan.vlekChainPem).toBe(`${milan.asvk?.pem ?? ''}${milan.ark.pem}`)
    expect(genoa.asvk).toBeUndefined()
    expect(genoa.vlekChainPem).toBeUndefined()
    expect(new Uint8Array(vcek.x509.raw)).toEqual(vcek.der)
  })

  it('makes RSA-4096 roots of the same shape', () => {
    const big = generateKeyPairSync('rsa', { modulusLength: 4096 })
    const pki = createAmdTestPki({
      product: 'Milan',
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      keys: { ark: big, ask: big },
    })
    expect(pki.ark.publicKey.asymmetricKeyDetails?.modulusLength).toBe(4096)
    const vcek = vcekOf(pki, CHIP_ID, MILAN_TCB)
    expect(pki.ask.x509.verify(pki.ark.publicKey)).toBe(true)
    expect(vcek.x509.verify(pki.ask.publicKey)).toBe(true)
  })
})

describe('createAmdTestPki: byte-for-byte like the real AMD certificates', () => {
  // With the real certificate's public key, validity and extension values, the synthetic TBS must
  // equal AMD's byte for byte: names, serial, algorithm parameters, extension order and encoding.
  const dummyRsa: TestKeyPair = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const dummyEc: KeyObject = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey
  const realPair = (der: Uint8Array): TestKeyPair => ({
    publicKey: new X509Certificate(der).publicKey,
    privateKey: dummyRsa.privateKey,
  })

  const bundles: readonly [string, AmdProduct, 'vcek' | 'vlek'][] = [
    ['ask_ark_milan.pem', 'Milan', 'vcek'],
    ['ask_ark_genoa.pem', 'Genoa', 'vcek'],
    ['ask_ark_turin_vcek.pem', 'Turin', 'vcek'],
    ['ask_ark_milan_vlek.pem', 'Milan', 'vlek'],
    ['ask_ark_genoa_vlek.pem', 'Genoa', 'vlek'],
    ['ask_ark_turin_vlek.pem', 'Turin', 'vlek'],
  ]
  for (const [file, product, kind] of bundles) {
    it(`ARK and ${kind === 'vcek' ? 'ASK' : 'ASVK'} of ${file}`, () => {
      const [realIntermediate, realArk] = readPemBundle(`amd-roots/${file}`)
      if (realIntermediate === undefined || realArk === undefined) throw new Error('bundle')
      const arkPki = createAmdTestPki({
        product,
        ...validityOf(realArk),
        keys: { ark: realPair(realArk), ask: dummyRsa },
      })
      expect(hex(tbsOf(arkPki.ark.der))).toBe(hex(tbsOf(realArk)))
      const intermediatePki = createAmdTestPki({
        product,
        ...validityOf(realIntermediate),
        withAsvk: kind === 'vlek',
        keys:
          kind === 'vcek'
            ? { ark: realPair(realArk), ask: realPair(realIntermediate) }
            : { ark: realPair(realArk), ask: dummyRsa, asvk: realPair(realIntermediate) },
      })
      const synthetic = kind === 'vcek' ? intermediatePki.ask : intermediatePki.asvk
      expect(hex(tbsOf(synthetic?.der ?? new Uint8Array()))).toBe(hex(tbsOf(realIntermediate)))
    })
  }

  const leaves: readonly {
    file: string
    product: AmdProduct
    kind: 'vcek' | 'vlek'
    trailer: 'explicit' | 'omitted'
    hwIdEncoding?: 'raw' | 'octet-string'
  }[] = [
    { file: 'milan-v2-a/vcek.der', product: 'Milan', kind: 'vcek', trailer: 'explicit' },
    { file: 'milan-v2-b/vcek.der', product: 'Milan', kind: 'vcek', trailer: 'explicit' },
    { file: 'milan-v2-c/vcek.der', product: 'Milan', kind: 'vcek', trailer: 'explicit' },
    {
      file: 'milan-v2-c/vcek-hwid-legacy-encoding.der',
      product: 'Milan',
      kind: 'vcek',
      trailer: 'explicit',
      hwIdEncoding: 'raw',
    },
    {
      file: 'milan-v2-c/vcek-hwid-new-encoding.der',
      product: 'Milan',
      kind: 'vcek',
      trailer: 'explicit',
      hwIdEncoding: 'octet-string',
    },
    { file: 'milan-v3-hostdata/vcek.pem', product: 'Milan', kind: 'vcek', trailer: 'omitted' },
    { file: 'turin-vcek-only/vcek.der', product: 'Turin', kind: 'vcek', trailer: 'omitted' },
    { file: 'milan-v3-vlek/vlek.der', product: 'Milan', kind: 'vlek', trailer: 'omitted' },
  ]
  for (const leaf of leaves) {
    it(`${leaf.kind.toUpperCase()} ${leaf.file}`, () => {
      const real = readCert(leaf.file)
      const pki = leaf.product === 'Turin' ? turin : milan
      const common = {
        tcb: tcbOf(real, leaf.product),
        ...validityOf(real),
        keyPair: { publicKey: new X509Certificate(real).publicKey, privateKey: dummyEc },
        pssTrailerField: leaf.trailer,
      }
      let synthetic: Uint8Array
      if (leaf.kind === 'vcek') {
        const rawHwId = extValue(real, AMD_EXTENSION_OID.hwId) ?? new Uint8Array()
        const hwId =
          leaf.hwIdEncoding === 'octet-string'
            ? decodeDerOctetString(parseDer(rawHwId), 'hwId')
            : rawHwId
        const chipId = new Uint8Array(64)
        chipId.set(hwId)
        synthetic = pki.issueVcek({
          ...common,
          chipId,
          ...(leaf.hwIdEncoding === undefined ? {} : { hwIdEncoding: leaf.hwIdEncoding }),
        }).der
      } else {
        const cspId = decodeDerIa5String(
          parseDer(extValue(real, AMD_EXTENSION_OID.cspId) ?? new Uint8Array()),
          'csp',
        )
        synthetic = pki.issueVlek({ ...common, cspId }).der
      }
      expect(hex(tbsOf(synthetic))).toBe(hex(tbsOf(real)))
    })
  }

  it('reads the TCBs the README states for the vectors', () => {
    expect(tcbOf(readCert('milan-v2-a/vcek.der'), 'Milan')).toEqual({
      bootloader: 2,
      tee: 0,
      snp: 5,
      microcode: 68,
    })
    expect(tcbOf(readCert('milan-v3-hostdata/vcek.pem'), 'Milan')).toEqual(MILAN_TCB)
  })
})

describe('issueVcek / issueVlek: extensions', () => {
  const oids = (der: Uint8Array): string[] =>
    extensionsOf(der).map((e) => e.oid.replace('1.3.6.1.4.1.3704.1.', ''))

  it('writes the Milan/Genoa VCEK extensions in AMD order with raw hwID', () => {
    for (const [pki, productName] of [
      [milan, 'Milan-B0'],
      [genoa, 'Genoa-B1'],
    ] as const) {
      const vcek = vcekOf(pki, CHIP_ID, MILAN_TCB)
      expect(oids(vcek.der)).toEqual([
        '1',
        '2',
        '3.1',
        '3.2',
        '3.4',
        '3.5',
        '3.6',
        '3.7',
        '3.3',
        '3.8',
        '4',
      ])
      expect(extensionsOf(vcek.der).every((e) => !e.critical)).toBe(true)
      expect(extInt(vcek.der, AMD_EXTENSION_OID.structVersion)).toBe(0)
      expect(
        decodeDerIa5String(
          parseDer(extValue(vcek.der, AMD_EXTENSION_OID.productName) ?? new Uint8Array()),
          'p',
        ),
      ).toBe(productName)
      expect(tcbOf(vcek.der, 'Milan')).toEqual(MILAN_TCB)
      expect(extInt(vcek.der, AMD_EXTENSION_OID.spl4)).toBe(0)
      expect(extValue(vcek.der, AMD_EXTENSION_OID.hwId)).toEqual(CHIP_ID)
      expect(hex(extValue(vcek.der, AMD_EXTENSION_OID.ucodeSpl) ?? new Uint8Array())).toBe(
        '020200db',
      )
    }
  })

  it('writes hwID as a DER OCTET STRING on request', () => {
    const vcek = milan.issueVcek({
      chipId: CHIP_ID,
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
      hwIdEncoding: 'octet-string',
    })
    const value = extValue(vcek.der, AMD_EXTENSION_OID.hwId) ?? new Uint8Array()
    expect(hex(value.subarray(0, 2))).toBe('0440')
    expect(decodeDerOctetString(parseDer(value), 'hwId')).toEqual(CHIP_ID)
  })

  it('writes the Turin VCEK: structVersion 1, FMC first, no 3.4, 8-byte hwID', () => {
    const vcek = vcekOf(turin, TURIN_CHIP_ID, TURIN_TCB)
    expect(oids(vcek.der)).toEqual([
      '1',
      '2',
      '3.9',
      '3.1',
      '3.2',
      '3.3',
      '3.5',
      '3.6',
      '3.7',
      '3.8',
      '4',
    ])
    expect(extInt(vcek.der, AMD_EXTENSION_OID.structVersion)).toBe(1)
    expect(tcbOf(vcek.der, 'Turin')).toEqual(TURIN_TCB)
    expect(hex(extValue(vcek.der, AMD_EXTENSION_OID.hwId) ?? new Uint8Array())).toBe(
      'a0a1a2a3a4a5a6a7',
    )
    expect(vcek.x509.verify(turin.ask.publicKey)).toBe(true)
    expect(
      extInt(
        vcekOf(turin, TURIN_CHIP_ID, { bootloader: 1, tee: 1, snp: 4, microcode: 81 }).der,
        AMD_EXTENSION_OID.fmcSpl,
      ),
    ).toBe(0)
  })

  it('writes the VLEK with csp_id and without hwID', () => {
    const vlek = milan.issueVlek({
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
      cspId: 'CN=example.test',
    })
    expect(oids(vlek.der)).toEqual([
      '1',
      '2',
      '3.1',
      '3.2',
      '3.4',
      '3.5',
      '3.6',
      '3.7',
      '3.3',
      '3.8',
      '5',
    ])
    expect(
      decodeDerIa5String(
        parseDer(extValue(vlek.der, AMD_EXTENSION_OID.cspId) ?? new Uint8Array()),
        'c',
      ),
    ).toBe('CN=example.test')
    expect(
      decodeDerIa5String(
        parseDer(extValue(vlek.der, AMD_EXTENSION_OID.productName) ?? new Uint8Array()),
        'p',
      ),
    ).toBe('Milan')
    const turinVlek = turin.issueVlek({
      tcb: TURIN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
    })
    expect(oids(turinVlek.der)).toEqual([
      '1',
      '2',
      '3.9',
      '3.1',
      '3.2',
      '3.3',
      '3.5',
      '3.6',
      '3.7',
      '3.8',
      '5',
    ])
  })

  it('lets a test swap keys, edit extensions or sign with the wrong key', () => {
    const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    const edited = milan.issueVcek({
      chipId: CHIP_ID,
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
      keyPair,
      productName: 'Milan-B1',
      serialNumber: 7n,
      pssTrailerField: 'explicit',
      editExtensions: (list) => [
        ...list.filter((e) => e.oid !== AMD_EXTENSION_OID.hwId),
        { oid: '1.2.3.4', critical: true, value: Uint8Array.of(5) },
      ],
    })
    expect(edited.publicKey).toBe(keyPair.publicKey)
    expect(edited.privateKey).toBe(keyPair.privateKey)
    expect(edited.x509.serialNumber).toBe('07')
    expect(extValue(edited.der, AMD_EXTENSION_OID.hwId)).toBeUndefined()
    expect(extensionsOf(edited.der).at(-1)).toEqual({
      oid: '1.2.3.4',
      critical: true,
      value: Uint8Array.of(5),
    })
    expect(edited.x509.verify(milan.ask.publicKey)).toBe(true)

    const forged = milan.issueVcek({
      chipId: CHIP_ID,
      tcb: MILAN_TCB,
      notBefore: NOT_BEFORE,
      notAfter: VCEK_NOT_AFTER,
      issuerPrivateKey: milan.ark.privateKey,
    })
    expect(forged.x509.verify(milan.ask.publicKey)).toBe(false)
  })

  it('lets a test edit the extensions of the ARK, ASK and ASVK', () => {
    const notCa = Uint8Array.of(0x30, 0x00)
    const edited = createAmdTestPki({
      product: 'Milan',
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
      withAsvk: true,
      keys: reuse,
      editCaExtensions: {
        ark: (list) => list.filter((e) => e.oid !== '2.5.29.15'),
        ask: (list) => list.map((e) => (e.oid === '2.5.29.19' ? { ...e, value: notCa } : e)),
        asvk: (list) => [...list, { oid: '1.2.3.4', value: Uint8Array.of(5) }],
      },
    })
    expect(extValue(edited.ark.der, '2.5.29.15')).toBeUndefined()
    expect(extValue(edited.ask.der, '2.5.29.19')).toEqual(notCa)
    expect(extValue(edited.asvk?.der ?? new Uint8Array(), '1.2.3.4')).toEqual(Uint8Array.of(5))
    expect(extValue(milan.ask.der, '2.5.29.19')).not.toEqual(notCa)
    expect(edited.ask.x509.verify(edited.ark.publicKey)).toBe(true)
    expect(edited.ark.x509.verify(edited.ark.publicKey)).toBe(true)
  })

  it('writes AMD’s distinguished name encoding', () => {
    expect(hex(encodeX509Name(amdName('SEV-VCEK')))).toBe(
      hex(tbsFields(readCert('milan-v2-a/vcek.der'))[5]?.encoded ?? new Uint8Array()),
    )
  })
})

describe('errors', () => {
  const base = { tcb: MILAN_TCB, notBefore: NOT_BEFORE, notAfter: VCEK_NOT_AFTER }
  const code = (fn: () => unknown): string => thrown(fn).code

  it('refuses what the PKI cannot issue', () => {
    expect(code(() => genoa.issueVlek(base))).toBe('ERR_AMD_PKI_NO_ASVK')
    expect(code(() => milan.issueVcek({ ...base, chipId: CHIP_ID, product: 'Genoa' }))).toBe(
      'ERR_AMD_PKI_PRODUCT_MISMATCH',
    )
    expect(code(() => milan.issueVlek({ ...base, product: 'Turin' }))).toBe(
      'ERR_AMD_PKI_PRODUCT_MISMATCH',
    )
    expect(
      milan
        .issueVcek({ ...base, chipId: CHIP_ID, product: 'Milan' })
        .x509.verify(milan.ask.publicKey),
    ).toBe(true)
    expect(code(() => milan.issueVcek({ ...base, chipId: new Uint8Array(8) }))).toBe(
      'ERR_AMD_PKI_CHIP_ID_INVALID',
    )
    expect(
      code(() => turin.issueVcek({ ...base, tcb: TURIN_TCB, chipId: new Uint8Array(8) })),
    ).toBe('ERR_AMD_PKI_CHIP_ID_INVALID')
  })

  it('refuses TCB levels out of range and FMC outside Turin', () => {
    expect(
      code(() => milan.issueVcek({ ...base, chipId: CHIP_ID, tcb: { ...MILAN_TCB, snp: 256 } })),
    ).toBe('ERR_AMD_PKI_TCB_INVALID')
    expect(
      code(() => milan.issueVcek({ ...base, chipId: CHIP_ID, tcb: { ...MILAN_TCB, tee: -1 } })),
    ).toBe('ERR_AMD_PKI_TCB_INVALID')
    expect(
      code(() => milan.issueVcek({ ...base, chipId: CHIP_ID, tcb: { ...MILAN_TCB, fmc: 1 } })),
    ).toBe('ERR_AMD_PKI_TCB_INVALID')
    expect(
      code(() =>
        turin.issueVcek({ ...base, chipId: TURIN_CHIP_ID, tcb: { ...TURIN_TCB, fmc: 1.5 } }),
      ),
    ).toBe('ERR_AMD_PKI_TCB_INVALID')
  })

  it('refuses CA keys that are not RSA and times that are not whole seconds', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(
      code(() =>
        createAmdTestPki({
          product: 'Milan',
          notBefore: NOT_BEFORE,
          notAfter: NOT_AFTER,
          keys: { ark: ec },
        }),
      ),
    ).toBe('ERR_AMD_PKI_KEY_INVALID')
    const swapped = { publicKey: milan.ark.privateKey, privateKey: milan.ark.publicKey }
    expect(
      code(() =>
        createAmdTestPki({
          product: 'Milan',
          notBefore: NOT_BEFORE,
          notAfter: NOT_AFTER,
          keys: { ark: swapped },
        }),
      ),
    ).toBe('ERR_AMD_PKI_KEY_INVALID')
    expect(
      code(() =>
        createAmdTestPki({
          product: 'Milan',
          notBefore: new Date('2024-01-01T00:00:00.5Z'),
          notAfter: NOT_AFTER,
          keys: reuse,
        }),
      ),
    ).toBe('ERR_X509_BUILD_TIME_INVALID')
  })
})

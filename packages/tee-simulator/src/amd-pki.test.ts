import { execFileSync } from 'node:child_process'
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { decodeDerIa5String, decodeDerOctetString, parseDer } from '@initguard/core'
import { createAmdTestPki } from './amd-pki.ts'
import { AMD_EXTENSION_OID } from './amd-pki-types.ts'
import type { AmdProduct, TestKeyPair } from './amd-pki-types.ts'
import {
  readCert,
  readPemBundle,
  hex,
  tbsOf,
  validityOf,
  extValue,
  tcbOf,
  NOT_BEFORE,
  NOT_AFTER,
  VCEK_NOT_AFTER,
  CHECK_TIME,
  milan,
  turin,
  genoa,
  CHIP_ID,
  MILAN_TCB,
  vcekOf,
} from './amd-pki-test-support.ts'

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

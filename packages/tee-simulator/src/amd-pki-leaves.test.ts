import { generateKeyPairSync } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { decodeDerIa5String, decodeDerOctetString, parseDer } from '@initguard/core'
import { amdName, createAmdTestPki } from './amd-pki.ts'
import { AMD_EXTENSION_OID } from './amd-pki-types.ts'
import {
  readCert,
  hex,
  thrown,
  tbsFields,
  extensionsOf,
  extValue,
  extInt,
  tcbOf,
  NOT_BEFORE,
  NOT_AFTER,
  VCEK_NOT_AFTER,
  milan,
  reuse,
  turin,
  genoa,
  CHIP_ID,
  TURIN_CHIP_ID,
  MILAN_TCB,
  TURIN_TCB,
  vcekOf,
} from './amd-pki-test-support.ts'
import { encodeX509Name } from './x509-builder.ts'

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

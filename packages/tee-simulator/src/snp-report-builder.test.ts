import { generateKeyPairSync, verify, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex, isInitguardError } from '@initguard/core'
import type { InitguardError } from '@initguard/core'
import { createAmdTestPki } from './amd-pki.ts'
import type { AmdProduct } from './amd-pki-types.ts'
import {
  buildSnpReport,
  defaultSnpReportFields,
  defaultSnpTcb,
  encodeTcbVersion,
  signSnpReport,
  SNP_REPORT_SIGNED_LENGTH,
  SNP_REPORT_SIZE,
  snpReportSignatureP1363,
} from './snp-report-builder.ts'
import type { SnpReportFields } from './snp-report-builder.ts'

// Real reports and VCEKs from testdata/vectors (byte-identical copies of the shared vectors).
const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const readVector = (path: string): Uint8Array =>
  new Uint8Array(readFileSync(new URL(path, VECTORS)))

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

function verifyReport(report: Uint8Array, key: KeyObject): boolean {
  return verify(
    'sha384',
    report.subarray(0, SNP_REPORT_SIGNED_LENGTH),
    { key, dsaEncoding: 'ieee-p1363' },
    snpReportSignatureP1363(report),
  )
}

/** Read every field of a real report the way the layout in verifiers.md §1.1 says. */
function fieldsOf(report: Uint8Array, product: AmdProduct): SnpReportFields {
  const v = new DataView(report.buffer, report.byteOffset, report.byteLength)
  const b = (offset: number, length: number): Uint8Array => report.slice(offset, offset + length)
  const version = v.getUint32(0, true)
  const signerInfo = v.getUint32(0x48, true)
  const keySelect = (signerInfo >> 2) & 7
  return {
    product,
    version,
    guestSvn: v.getUint32(0x04, true),
    policy: v.getBigUint64(0x08, true),
    familyId: b(0x10, 16),
    imageId: b(0x20, 16),
    vmpl: v.getUint32(0x30, true),
    signatureAlgo: v.getUint32(0x34, true),
    currentTcb: v.getBigUint64(0x38, true),
    platformInfo: v.getBigUint64(0x40, true),
    authorKeyEn: (signerInfo & 1) !== 0,
    maskChipKey: (signerInfo & 2) !== 0,
    keySelect: keySelect === 0 ? 'vcek' : keySelect === 1 ? 'vlek' : 'none',
    reportData: b(0x50, 64),
    measurement: b(0x90, 48),
    hostData: b(0xc0, 32),
    idKeyDigest: b(0xe0, 48),
    authorKeyDigest: b(0x110, 48),
    reportId: b(0x140, 32),
    reportIdMa: b(0x160, 32),
    reportedTcb: v.getBigUint64(0x180, true),
    ...(version >= 3
      ? {
          cpuidFamId: report[0x188] ?? 0,
          cpuidModId: report[0x189] ?? 0,
          cpuidStep: report[0x18a] ?? 0,
        }
      : {}),
    chipId: b(0x1a0, 64),
    committedTcb: v.getBigUint64(0x1e0, true),
    currentVersion: {
      build: report[0x1e8] ?? 0,
      minor: report[0x1e9] ?? 0,
      major: report[0x1ea] ?? 0,
    },
    committedVersion: {
      build: report[0x1ec] ?? 0,
      minor: report[0x1ed] ?? 0,
      major: report[0x1ee] ?? 0,
    },
    launchTcb: v.getBigUint64(0x1f0, true),
  }
}

// One set of RSA keys for the file, shared by the Milan, Genoa and Turin PKIs.
const NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
const NOT_AFTER = new Date('2049-01-01T00:00:00Z')
const milan = createAmdTestPki({
  product: 'Milan',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  withAsvk: true,
})
const keys = { ark: milan.ark, ask: milan.ask, asvk: milan.asvk ?? milan.ask }
const pkis = {
  Milan: milan,
  Genoa: createAmdTestPki({ product: 'Genoa', notBefore: NOT_BEFORE, notAfter: NOT_AFTER, keys }),
  Turin: createAmdTestPki({ product: 'Turin', notBefore: NOT_BEFORE, notAfter: NOT_AFTER, keys }),
} as const

describe('buildSnpReport: signature and chain', () => {
  for (const product of ['Milan', 'Genoa', 'Turin'] as const) {
    it(`signs a ${product} report that verifies with its VCEK, whose chain verifies to the ARK`, () => {
      const pki = pkis[product]
      const defaults = defaultSnpReportFields(product)
      const vcek = pki.issueVcek({
        chipId: defaults.chipId,
        tcb: defaultSnpTcb(product),
        notBefore: NOT_BEFORE,
        notAfter: new Date('2031-01-01T00:00:00Z'),
      })
      const hostData = Uint8Array.from({ length: 32 }, (_, i) => i)
      const report = buildSnpReport({ product, hostData }, vcek.privateKey)
      expect(report).toHaveLength(SNP_REPORT_SIZE)

      // The report signature, with plain node:crypto.
      const sigBE = snpReportSignatureP1363(report)
      expect(
        verify(
          'sha384',
          report.subarray(0, 0x2a0),
          { key: vcek.x509.publicKey, dsaEncoding: 'ieee-p1363' },
          sigBE,
        ),
      ).toBe(true)
      // The chain VCEK → ASK → ARK (self-signed), with plain node:crypto.
      expect(vcek.x509.verify(pki.ask.x509.publicKey)).toBe(true)
      expect(pki.ask.x509.verify(pki.ark.x509.publicKey)).toBe(true)
      expect(pki.ark.x509.verify(pki.ark.x509.publicKey)).toBe(true)

      // Any change to the signed part breaks it.
      const tampered = report.slice()
      tampered[0xc0] = (tampered[0xc0] ?? 0) ^ 1
      expect(verifyReport(tampered, vcek.publicKey)).toBe(false)
    })
  }

  it('signs with a VLEK and says so in the signer info', () => {
    const vlek = milan.issueVlek({
      tcb: defaultSnpTcb('Milan'),
      notBefore: NOT_BEFORE,
      notAfter: NOT_AFTER,
    })
    const report = buildSnpReport(
      { keySelect: 'vlek', chipId: new Uint8Array(64) },
      vlek.privateKey,
    )
    expect(verifyReport(report, vlek.publicKey)).toBe(true)
    expect(new DataView(report.buffer).getUint32(0x48, true)).toBe(1 << 2)
    expect(vlek.x509.verify(milan.asvk?.publicKey ?? milan.ask.publicKey)).toBe(true)
  })

  it('stores R and S as 72-byte little-endian integers and zeros after them', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 64, maxLength: 64 }), (reportData) => {
        const report = buildSnpReport({ reportData }, privateKey)
        expect(report.subarray(0x2a0 + 48, 0x2e8).every((x) => x === 0)).toBe(true)
        expect(report.subarray(0x2e8 + 48, 0x330).every((x) => x === 0)).toBe(true)
        expect(report.subarray(0x330).every((x) => x === 0)).toBe(true)
        const sig = snpReportSignatureP1363(report)
        expect(hex(sig.subarray(0, 48))).toBe(hex(report.slice(0x2a0, 0x2d0).reverse()))
        expect(verifyReport(report, publicKey)).toBe(true)
      }),
      { numRuns: 20 },
    )
  })

  it('reads real reports’ signatures the same way (the helper agrees with AMD hardware)', () => {
    for (const [report, vcek] of [
      ['milan-v2-a/report.bin', 'milan-v2-a/vcek.der'],
      ['milan-v3-vlek/report.bin', 'milan-v3-vlek/vlek.der'],
    ] as const) {
      expect(
        verifyReport(readVector(report), new X509Certificate(readVector(vcek)).publicKey),
      ).toBe(true)
    }
  })

  it('re-signs an edited report and leaves unsigned reports unsigned', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    const unsigned = buildSnpReport({}, null)
    expect(unsigned.subarray(0x2a0).every((x) => x === 0)).toBe(true)
    const signed = signSnpReport(unsigned, privateKey)
    expect(unsigned.subarray(0x2a0).every((x) => x === 0)).toBe(true)
    expect(signed.subarray(0, 0x2a0)).toEqual(unsigned.subarray(0, 0x2a0))
    expect(verifyReport(signed, publicKey)).toBe(true)
    const edited = signed.slice()
    edited[0x30] = 3
    expect(verifyReport(edited, publicKey)).toBe(false)
    expect(verifyReport(signSnpReport(edited, privateKey), publicKey)).toBe(true)
  })
})

describe('buildSnpReport: layout', () => {
  it('reproduces the signed part of real Milan v2 and v3 reports byte for byte', () => {
    for (const file of [
      'milan-v2-a/report.bin',
      'milan-v2-b/report.bin',
      'milan-v2-c/report.bin',
      'milan-v3-hostdata/report.bin',
      'milan-v3-vlek/report.bin',
    ]) {
      const real = readVector(file)
      const built = buildSnpReport(fieldsOf(real, 'Milan'), null)
      expect(hex(built.subarray(0, 0x2a0)), file).toBe(hex(real.subarray(0, 0x2a0)))
    }
  })

  it('writes every field at its offset', () => {
    const fill = (length: number, start: number): Uint8Array =>
      Uint8Array.from({ length }, (_, i) => (start + i) & 0xff)
    const fields: SnpReportFields = {
      product: 'Turin',
      version: 5,
      guestSvn: 0x01020304,
      policy: 0x0000000002030000n,
      familyId: fill(16, 0x10),
      imageId: fill(16, 0x20),
      vmpl: 2,
      signatureAlgo: 1,
      currentTcb: 0x1111111111111111n,
      platformInfo: 0x65n,
      authorKeyEn: true,
      maskChipKey: true,
      keySelect: 'none',
      reportData: fill(64, 0x50),
      measurement: fill(48, 0x90),
      hostData: fill(32, 0xc0),
      idKeyDigest: fill(48, 0xe0),
      authorKeyDigest: fill(48, 0x10),
      reportId: fill(32, 0x40),
      reportIdMa: fill(32, 0x60),
      reportedTcb: 0x2222222222222222n,
      cpuidFamId: 0x1a,
      cpuidModId: 0x02,
      cpuidStep: 0x03,
      chipId: fill(64, 0xa0),
      committedTcb: 0x3333333333333333n,
      currentVersion: { build: 0x21, minor: 0x37, major: 0x01 },
      committedVersion: { build: 0x20, minor: 0x36, major: 0x01 },
      launchTcb: 0x4444444444444444n,
      launchMitVector: 0x5555555555555555n,
      currentMitVector: 0x6666666666666666n,
    }
    const r = buildSnpReport(fields, null)
    const v = new DataView(r.buffer)
    const at = (offset: number, length: number): string => hex(r.subarray(offset, offset + length))
    expect(v.getUint32(0x000, true)).toBe(5)
    expect(v.getUint32(0x004, true)).toBe(0x01020304)
    expect(v.getBigUint64(0x008, true)).toBe(0x02030000n)
    expect(at(0x010, 16)).toBe(hex(fill(16, 0x10)))
    expect(at(0x020, 16)).toBe(hex(fill(16, 0x20)))
    expect(v.getUint32(0x030, true)).toBe(2)
    expect(v.getUint32(0x034, true)).toBe(1)
    expect(v.getBigUint64(0x038, true)).toBe(0x1111111111111111n)
    expect(v.getBigUint64(0x040, true)).toBe(0x65n)
    expect(v.getUint32(0x048, true)).toBe(0b11111)
    expect(v.getUint32(0x04c, true)).toBe(0)
    expect(at(0x050, 64)).toBe(hex(fill(64, 0x50)))
    expect(at(0x090, 48)).toBe(hex(fill(48, 0x90)))
    expect(at(0x0c0, 32)).toBe(hex(fill(32, 0xc0)))
    expect(at(0x0e0, 48)).toBe(hex(fill(48, 0xe0)))
    expect(at(0x110, 48)).toBe(hex(fill(48, 0x10)))
    expect(at(0x140, 32)).toBe(hex(fill(32, 0x40)))
    expect(at(0x160, 32)).toBe(hex(fill(32, 0x60)))
    expect(v.getBigUint64(0x180, true)).toBe(0x2222222222222222n)
    expect(at(0x188, 3)).toBe('1a0203')
    expect(r.subarray(0x18b, 0x1a0).every((x) => x === 0)).toBe(true)
    expect(at(0x1a0, 64)).toBe(hex(fill(64, 0xa0)))
    expect(v.getBigUint64(0x1e0, true)).toBe(0x3333333333333333n)
    expect(at(0x1e8, 8)).toBe('2137010020360100')
    expect(v.getBigUint64(0x1f0, true)).toBe(0x4444444444444444n)
    expect(v.getBigUint64(0x1f8, true)).toBe(0x5555555555555555n)
    expect(v.getBigUint64(0x200, true)).toBe(0x6666666666666666n)
    expect(r.subarray(0x208, 0x4a0).every((x) => x === 0)).toBe(true)
  })

  it('follows the version: no CPUID before v3, no mitigation vectors before v5', () => {
    const v2 = buildSnpReport({ version: 2 }, null)
    const v3 = buildSnpReport({ version: 3 }, null)
    const v5 = buildSnpReport({ version: 5, launchMitVector: 7n, currentMitVector: 9n }, null)
    expect(hex(v2.subarray(0x188, 0x18b))).toBe('000000')
    expect(hex(v3.subarray(0x188, 0x18b))).toBe('190101')
    expect(v3.subarray(0x1f8, 0x208).every((x) => x === 0)).toBe(true)
    expect(new DataView(v5.buffer).getBigUint64(0x1f8, true)).toBe(7n)
    expect(new DataView(v5.buffer).getBigUint64(0x200, true)).toBe(9n)
    expect(buildSnpReport({ version: 4 }, null)[0x188]).toBe(0x19)
    expect(buildSnpReport({ version: 1 }, null)[0]).toBe(1)
  })

  it('has realistic defaults per product', () => {
    const milanReport = buildSnpReport({}, null)
    const genoaReport = buildSnpReport({ product: 'Genoa' }, null)
    const turinReport = buildSnpReport({ product: 'Turin' }, null)
    const dv = (r: Uint8Array): DataView => new DataView(r.buffer)
    expect(dv(milanReport).getUint32(0, true)).toBe(3)
    expect(dv(turinReport).getUint32(0, true)).toBe(5)
    expect(dv(milanReport).getBigUint64(0x08, true)).toBe(0x30000n)
    expect(dv(milanReport).getUint32(0x34, true)).toBe(1)
    expect(dv(milanReport).getBigUint64(0x38, true)).toBe(0xdb18000000000004n)
    expect(dv(turinReport).getBigUint64(0x180, true)).toBe(0x5100000004010101n)
    expect(dv(turinReport).getBigUint64(0x40, true)).toBe(0x65n)
    expect(hex(milanReport.subarray(0x188, 0x18b))).toBe('190101')
    expect(hex(genoaReport.subarray(0x188, 0x18b))).toBe('191101')
    expect(hex(turinReport.subarray(0x188, 0x18b))).toBe('1a0201')
    expect(milanReport.subarray(0x160, 0x180).every((x) => x === 0xff)).toBe(true)
    expect(milanReport.subarray(0x1a0, 0x1e0).every((x) => x === 0)).toBe(false)
    expect(turinReport.subarray(0x1a0, 0x1a8).every((x) => x === 0)).toBe(false)
    expect(turinReport.subarray(0x1a8, 0x1e0).every((x) => x === 0)).toBe(true)
    for (const r of [milanReport, genoaReport, turinReport]) {
      const tcb = hex(r.subarray(0x38, 0x40))
      for (const offset of [0x180, 0x1e0, 0x1f0])
        expect(hex(r.subarray(offset, offset + 8))).toBe(tcb)
    }
    // Defaults are fixed values: the same fields give the same signed bytes.
    expect(buildSnpReport({ product: 'Genoa' }, null)).toEqual(genoaReport)
    expect(defaultSnpReportFields('Milan').chipId).toEqual(milanReport.subarray(0x1a0, 0x1e0))
  })

  it('applies patches to the signed part before signing', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    const r = buildSnpReport(
      {
        patches: [
          { offset: 0x4c, bytes: Uint8Array.of(1) },
          { offset: 0x29f, bytes: Uint8Array.of(2) },
        ],
      },
      privateKey,
    )
    expect(r[0x4c]).toBe(1)
    expect(r[0x29f]).toBe(2)
    expect(verifyReport(r, publicKey)).toBe(true)
    expect(
      new DataView(buildSnpReport({ signerInfo: 0xffffffff }, null).buffer).getUint32(0x48, true),
    ).toBe(0xffffffff)
  })
})

describe('encodeTcbVersion', () => {
  it('matches real TCB_VERSION values', () => {
    // milan-v2-a: BL 2, TEE 0, SNP 5, UCODE 68 (its REPORTED_TCB bytes 02 00 00 00 00 00 05 44).
    expect(encodeTcbVersion({ bootloader: 2, tee: 0, snp: 5, microcode: 68 }, 'Milan')).toBe(
      0x4405000000000002n,
    )
    const real = readVector('milan-v2-a/report.bin')
    expect(new DataView(real.buffer, real.byteOffset).getBigUint64(0x180, true)).toBe(
      0x4405000000000002n,
    )
    expect(encodeTcbVersion({ bootloader: 10, tee: 0, snp: 23, microcode: 25 }, 'Genoa')).toBe(
      0x191700000000000an,
    )
    // Turin (microsoft vector): FMC 1, BL 1, TEE 1, SNP 4, UCODE 0x51.
    expect(
      encodeTcbVersion({ fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }, 'Turin'),
    ).toBe(0x5100000004010101n)
    expect(encodeTcbVersion({ bootloader: 1, tee: 1, snp: 4, microcode: 81 }, 'Turin')).toBe(
      0x5100000004010100n,
    )
  })

  it('places each level in its byte', () => {
    const byte = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(byte, byte, byte, byte, byte, (fmc, bootloader, tee, snp, microcode) => {
        const b = (v: bigint, i: number): number => Number((v >> BigInt(8 * i)) & 0xffn)
        const m = encodeTcbVersion({ bootloader, tee, snp, microcode }, 'Milan')
        expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => b(m, i))).toEqual([
          bootloader,
          tee,
          0,
          0,
          0,
          0,
          snp,
          microcode,
        ])
        const t = encodeTcbVersion({ fmc, bootloader, tee, snp, microcode }, 'Turin')
        expect([0, 1, 2, 3, 4, 5, 6, 7].map((i) => b(t, i))).toEqual([
          fmc,
          bootloader,
          tee,
          snp,
          0,
          0,
          0,
          microcode,
        ])
      }),
    )
  })

  it('refuses levels out of range and FMC outside Turin', () => {
    const code = (fn: () => unknown): string => thrown(fn).code
    expect(
      code(() => encodeTcbVersion({ bootloader: 256, tee: 0, snp: 0, microcode: 0 }, 'Milan')),
    ).toBe('ERR_SNP_BUILD_FIELD_INVALID')
    expect(
      code(() => encodeTcbVersion({ bootloader: 0, tee: 0, snp: 0.5, microcode: 0 }, 'Genoa')),
    ).toBe('ERR_SNP_BUILD_FIELD_INVALID')
    expect(
      code(() =>
        encodeTcbVersion({ fmc: 0, bootloader: 0, tee: 0, snp: 0, microcode: 0 }, 'Milan'),
      ),
    ).toBe('ERR_SNP_BUILD_FIELD_INVALID')
    expect(
      code(() =>
        encodeTcbVersion({ fmc: -1, bootloader: 0, tee: 0, snp: 0, microcode: 0 }, 'Turin'),
      ),
    ).toBe('ERR_SNP_BUILD_FIELD_INVALID')
  })
})

describe('errors', () => {
  const code = (fn: () => unknown): string => thrown(fn).code

  it('refuses fields of the wrong size or range', () => {
    expect(code(() => buildSnpReport({ reportData: new Uint8Array(32) }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ hostData: new Uint8Array(48) }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ chipId: new Uint8Array(8) }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ vmpl: -1 }, null))).toBe('ERR_SNP_BUILD_FIELD_INVALID')
    expect(code(() => buildSnpReport({ version: 2 ** 32 }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ policy: 2n ** 64n }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ currentTcb: -1n }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_INVALID',
    )
    expect(code(() => buildSnpReport({ cpuidStep: 256 }, null))).toBe('ERR_SNP_BUILD_FIELD_INVALID')
    expect(
      code(() => buildSnpReport({ currentVersion: { build: 0, minor: 300, major: 1 } }, null)),
    ).toBe('ERR_SNP_BUILD_FIELD_INVALID')
  })

  it('refuses fields the version does not have', () => {
    expect(code(() => buildSnpReport({ version: 2, cpuidFamId: 0x19 }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_VERSION',
    )
    expect(code(() => buildSnpReport({ version: 3, launchMitVector: 1n }, null))).toBe(
      'ERR_SNP_BUILD_FIELD_VERSION',
    )
    expect(
      code(() => buildSnpReport({ product: 'Turin', version: 4, currentMitVector: 1n }, null)),
    ).toBe('ERR_SNP_BUILD_FIELD_VERSION')
  })

  it('refuses patches outside the signed part', () => {
    for (const patch of [
      { offset: 0x2a0, bytes: Uint8Array.of(1) },
      { offset: 0x29f, bytes: Uint8Array.of(1, 2) },
      { offset: -1, bytes: Uint8Array.of(1) },
      { offset: 1.5, bytes: Uint8Array.of(1) },
    ]) {
      expect(code(() => buildSnpReport({ patches: [patch] }, null))).toBe(
        'ERR_SNP_BUILD_PATCH_INVALID',
      )
    }
  })

  it('refuses signing keys that are not P-384 private keys and reports of the wrong size', () => {
    const p256 = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' })
    expect(code(() => buildSnpReport({}, p256.privateKey))).toBe('ERR_SNP_BUILD_KEY_INVALID')
    expect(code(() => buildSnpReport({}, p384.publicKey))).toBe('ERR_SNP_BUILD_KEY_INVALID')
    expect(code(() => buildSnpReport({}, milan.ark.privateKey))).toBe('ERR_SNP_BUILD_KEY_INVALID')
    expect(code(() => signSnpReport(new Uint8Array(0x2a0), p384.privateKey))).toBe(
      'ERR_SNP_BUILD_SIZE_INVALID',
    )
    expect(code(() => snpReportSignatureP1363(new Uint8Array(0x4a1)))).toBe(
      'ERR_SNP_BUILD_SIZE_INVALID',
    )
  })
})

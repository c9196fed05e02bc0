import { readFileSync } from 'node:fs'
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { bytesToHex, isInitguardError, type InitguardError } from '@initguard/core'
import {
  decodeSnpPlatformInfo,
  decodeSnpPolicy,
  decodeSnpSignerInfo,
  parseSnpReport,
  SNP_REPORT_SIZE,
  SNP_SIGNED_SIZE,
} from './report.ts'
import { decodeTcbVersion, productFromCpuid } from './tcb.ts'

const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)
const REPORTS = [
  'milan-v2-a',
  'milan-v2-b',
  'milan-v2-c',
  'milan-v3-hostdata',
  'milan-v3-vlek',
] as const

function vector(name: (typeof REPORTS)[number]): Uint8Array {
  return new Uint8Array(readFileSync(new URL(`${name}/report.bin`, VECTORS)))
}

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** A copy of `base` changed by `edit`. */
function patched(base: Uint8Array, edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = base.slice()
  edit(new DataView(bytes.buffer), bytes)
  return bytes
}

const hex = bytesToHex
const zeros = (n: number): string => '00'.repeat(n)

describe('parseSnpReport on the real reports (vectors README)', () => {
  it('milan-v2-a: v2, debug policy 0xB0000, VMPL 0, REPORT_DATA 0102030405, TCB BL2 TEE0 SNP5 UCODE68', () => {
    const r = parseSnpReport(vector('milan-v2-a'))
    expect(r.version).toBe(2)
    expect(r.layout).toBe('v2')
    expect(r.policy.raw).toBe(0xb0000n)
    expect(r.policy).toMatchObject({
      debug: true,
      smt: true,
      reservedBit17: true,
      migrateMa: false,
      singleSocket: false,
      abiMajor: 0,
      abiMinor: 0,
      unknownBits: [],
    })
    expect(r.vmpl).toBe(0)
    expect(r.signatureAlgorithm).toBe(1)
    expect(hex(r.reportData)).toBe(`0102030405${zeros(59)}`)
    expect(hex(r.hostData)).toBe(zeros(32))
    expect(hex(r.measurement)).toMatch(/^b07af962.*2b01$/)
    expect(hex(r.chipId)).toMatch(/^3ac3fe21.*6b5d$/)
    expect(r.reportedTcb).toBe(0x4405000000000002n)
    expect(decodeTcbVersion(r.reportedTcb, 'Milan')).toMatchObject({
      bootloader: 2,
      tee: 0,
      snp: 5,
      microcode: 68,
    })
    expect(r.signerInfo).toEqual({
      raw: 0,
      authorKeyEn: false,
      maskChipKey: false,
      signingKey: 'vcek',
      signingKeyCode: 0,
    })
    expect(r.cpuidFamilyId).toBeUndefined()
    expect(r.cpuidModelId).toBeUndefined()
    expect(r.cpuidStepping).toBeUndefined()
    expect(r.launchMitVector).toBeUndefined()
    expect(r.currentMitVector).toBeUndefined()
    expect(hex(r.reportIdMa)).toBe('ff'.repeat(32))
    expect([r.currentMajor, r.currentMinor, r.currentBuild]).toEqual([1, 49, 3])
    expect([r.committedMajor, r.committedMinor, r.committedBuild]).toEqual([1, 49, 3])
    expect(r.platformInfo).toMatchObject({ raw: 1n, smtEnabled: true, unknownBits: [] })
    expect(r.reservedNonZero).toEqual([])
  })

  it('milan-v2-b: v2, policy 0x30000, TCB BL3 SNP8 UCODE115', () => {
    const r = parseSnpReport(vector('milan-v2-b'))
    expect(r.version).toBe(2)
    expect(r.policy.raw).toBe(0x30000n)
    expect(r.policy.debug).toBe(false)
    expect(hex(r.reportData)).toMatch(/^d447b55d/)
    expect(hex(r.measurement)).toMatch(/^7a1e5c26.*841f$/)
    expect(hex(r.chipId)).toMatch(/^d49554ec/)
    expect(decodeTcbVersion(r.reportedTcb, 'Milan')).toMatchObject({
      bootloader: 3,
      tee: 0,
      snp: 8,
      microcode: 115,
    })
    expect(r.reservedNonZero).toEqual([])
  })

  it('milan-v2-c: v2, policy 0x3001F (ABI 0.31), family and image IDs, TCB BL3 SNP8 UCODE115', () => {
    const r = parseSnpReport(vector('milan-v2-c'))
    expect(r.version).toBe(2)
    expect(r.guestSvn).toBe(4)
    expect(r.policy.raw).toBe(0x3001fn)
    expect(r.policy.abiMinor).toBe(0x1f)
    expect(hex(r.familyId)).toBe(`01${zeros(15)}`)
    expect(hex(r.imageId)).toBe(`02${zeros(15)}`)
    expect(hex(r.reportData)).toMatch(new RegExp(`^ec6c52d7[0-9a-f]{56}${zeros(32)}$`))
    expect(decodeTcbVersion(r.reportedTcb, 'Milan')).toMatchObject({
      bootloader: 3,
      snp: 8,
      microcode: 115,
    })
    // CURRENT_TCB differs from REPORTED_TCB here: microcode 0xCE.
    expect(decodeTcbVersion(r.currentTcb, 'Milan').microcode).toBe(206)
    expect(r.reservedNonZero).toEqual([])
  })

  it('milan-v3-hostdata: v3 Milan CPUID, non-zero HOST_DATA, TCB BL4 SNP24 UCODE219', () => {
    const r = parseSnpReport(vector('milan-v3-hostdata'))
    expect(r.version).toBe(3)
    expect(r.layout).toBe('v3')
    expect([r.cpuidFamilyId, r.cpuidModelId, r.cpuidStepping]).toEqual([0x19, 0x01, 0x01])
    expect(productFromCpuid(0x19, 0x01)).toBe('Milan')
    expect(r.policy.raw).toBe(0x3001fn)
    expect(r.vmpl).toBe(0)
    expect(hex(r.hostData)).toBe('4f4448c67f3c8dfc8de8a5e37125d807dadcc41f06cf23f615dbd52eec777d10')
    expect(hex(r.measurement)).toMatch(/^5feee30d.*3fca1$/)
    expect(hex(r.reportData)).toBe(zeros(64))
    expect(decodeTcbVersion(r.reportedTcb, 'Milan')).toMatchObject({
      bootloader: 4,
      tee: 0,
      snp: 24,
      microcode: 219,
    })
    expect(r.platformInfo).toMatchObject({
      raw: 0x25n,
      smtEnabled: true,
      tsmeEnabled: false,
      eccEnabled: true,
      aliasCheckComplete: true,
      unknownBits: [],
    })
    expect(r.signerInfo.signingKey).toBe('vcek')
    expect(r.launchMitVector).toBeUndefined()
    expect(r.reservedNonZero).toEqual([])
  })

  it('milan-v3-vlek: v3, signed by the VLEK, VMPL 1, CHIP_ID zeroed', () => {
    const r = parseSnpReport(vector('milan-v3-vlek'))
    expect(r.version).toBe(3)
    expect(r.signerInfo).toEqual({
      raw: 4,
      authorKeyEn: false,
      maskChipKey: false,
      signingKey: 'vlek',
      signingKeyCode: 1,
    })
    expect(r.vmpl).toBe(1)
    expect(hex(r.chipId)).toBe(zeros(64))
    expect(hex(r.reportData)).toMatch(/^819770b7/)
    expect(productFromCpuid(r.cpuidFamilyId ?? 0, r.cpuidModelId ?? 0)).toBe('Milan')
    expect(r.reservedNonZero).toEqual([])
  })

  it('gives raw, signedBytes and the signature halves from one private copy', () => {
    for (const name of REPORTS) {
      const input = vector(name)
      const r = parseSnpReport(input)
      expect(r.raw).toEqual(input)
      expect(r.raw).not.toBe(input)
      expect(r.signedBytes.length).toBe(SNP_SIGNED_SIZE)
      expect(r.signedBytes.buffer).toBe(r.raw.buffer)
      expect(r.signedBytes.byteOffset).toBe(r.raw.byteOffset)
      expect(r.signature.r).toEqual(input.subarray(0x2a0, 0x2e8))
      expect(r.signature.s).toEqual(input.subarray(0x2e8, 0x330))
      // P-384 values in 72-byte little-endian fields: the top 24 bytes are zero.
      expect(hex(r.signature.r.subarray(48))).toBe(zeros(24))
      expect(hex(r.signature.s.subarray(48))).toBe(zeros(24))
    }
  })

  it('is not affected by the caller changing the input, nor raw by changes to fields', () => {
    const input = vector('milan-v3-hostdata')
    const r = parseSnpReport(input)
    input.fill(0xaa)
    expect(hex(r.hostData)).toMatch(/^4f4448c6/)
    expect(r.raw[0xc0]).toBe(0x4f)
    r.hostData.fill(0)
    r.measurement.fill(0)
    expect(r.raw[0xc0]).toBe(0x4f)
    expect(r.signedBytes[0x90]).toBe(0x5f)
  })
})

describe('parseSnpReport of a Node Buffer', () => {
  it('is not affected by the caller changing the Buffer (a Buffer slice is a view, not a copy)', () => {
    const input = Buffer.from(vector('milan-v3-hostdata'))
    const r = parseSnpReport(input)
    const measurement = hex(r.measurement)
    input.fill(0xaa)
    expect(hex(r.hostData)).toMatch(/^4f4448c6/)
    expect(hex(r.measurement)).toBe(measurement)
    expect(r.raw[0xc0]).toBe(0x4f)
  })
})

describe('parseSnpReport versions and layouts', () => {
  const v3 = vector('milan-v3-hostdata')

  it('reads version 4 with the v3 layout', () => {
    const r = parseSnpReport(
      patched(v3, (v) => {
        v.setUint32(0, 4, true)
      }),
    )
    expect(r.version).toBe(4)
    expect(r.layout).toBe('v3')
    expect(r.cpuidFamilyId).toBe(0x19)
    expect(r.launchMitVector).toBeUndefined()
  })

  it('reads version 5 with the mitigation vectors', () => {
    const r = parseSnpReport(
      patched(v3, (v) => {
        v.setUint32(0, 5, true)
        v.setBigUint64(0x1f8, 0x0123456789abcdefn, true)
        v.setBigUint64(0x200, 3n, true)
      }),
    )
    expect(r.layout).toBe('v5')
    expect(r.launchMitVector).toBe(0x0123456789abcdefn)
    expect(r.currentMitVector).toBe(3n)
    expect(r.reservedNonZero).toEqual([])
  })

  /** The ERR_SNP_REPORT_VERSION error for `v3` with VERSION set to `version`. */
  const versionRefusal = (version: number) => {
    const e = thrown(() =>
      parseSnpReport(
        patched(v3, (v) => {
          v.setUint32(0, version, true)
        }),
      ),
    )
    expect(e.code).toBe('ERR_SNP_REPORT_VERSION')
    expect(e.category).toBe('malformed')
    expect(e.details).toMatchObject({ version, supported: '2-5' })
    return e
  }

  it('refuses versions above 5, whose layout the specification does not promise, with a hint', () => {
    for (const version of [6, 7, 100, 0xffffffff]) {
      const e = versionRefusal(version)
      expect(e.message).toContain(`SNP report version ${version} is newer than this verifier reads`)
      expect(e.hint).toContain('update Initguard')
    }
  })

  it('refuses versions 0 and 1', () => {
    for (const version of [0, 1]) versionRefusal(version)
  })

  it('refuses any signature algorithm but 1', () => {
    for (const algorithm of [0, 2, 3, 0x100, 0xffffffff]) {
      const e = thrown(() =>
        parseSnpReport(
          patched(v3, (v) => {
            v.setUint32(0x34, algorithm, true)
          }),
        ),
      )
      expect(e.code).toBe('ERR_SNP_SIGNATURE_ALGORITHM')
      expect(e.details).toMatchObject({ algorithm, offset: 0x34 })
    }
  })

  it('reads a v2 CPUID area as reserved and a v3 one as CPUID', () => {
    const v2 = vector('milan-v2-a')
    const withCpuid = (base: Uint8Array): Uint8Array =>
      patched(base, (_, b) => {
        b.set([0x1a, 0x02, 0x00], 0x188)
      })
    expect(parseSnpReport(withCpuid(v2)).reservedNonZero).toEqual(['reserved@0x188'])
    expect(parseSnpReport(withCpuid(v2)).cpuidFamilyId).toBeUndefined()
    const r3 = parseSnpReport(withCpuid(v3))
    expect(r3.reservedNonZero).toEqual([])
    expect([r3.cpuidFamilyId, r3.cpuidModelId, r3.cpuidStepping]).toEqual([0x1a, 0x02, 0x00])
  })
})

describe('parseSnpReport reserved areas', () => {
  const v3 = vector('milan-v3-hostdata')
  const v5 = patched(v3, (v) => {
    v.setUint32(0, 5, true)
  })

  it('names every non-zero reserved area instead of failing', () => {
    const cases: [Uint8Array, number, string][] = [
      [v3, 0x04c, 'reserved@0x04C'],
      [v3, 0x04f, 'reserved@0x04C'],
      [v3, 0x18b, 'reserved@0x18B'],
      [v3, 0x19f, 'reserved@0x18B'],
      [v3, 0x1eb, 'reserved@0x1EB'],
      [v3, 0x1ef, 'reserved@0x1EF'],
      [v3, 0x1f8, 'reserved@0x1F8'],
      [v3, 0x29f, 'reserved@0x1F8'],
      [v5, 0x208, 'reserved@0x208'],
      [v5, 0x29f, 'reserved@0x208'],
      [v3, 0x330, 'signature.reserved@0x330'],
      [v3, 0x49f, 'signature.reserved@0x330'],
    ]
    for (const [base, offset, name] of cases) {
      const r = parseSnpReport(patched(base, (_, b) => (b[offset] = 0x80)))
      expect(r.reservedNonZero, `offset 0x${offset.toString(16)}`).toEqual([name])
    }
  })

  it('reports KEY_INFO bits 31:5 and lists several areas in offset order', () => {
    const r = parseSnpReport(
      patched(v3, (v, b) => {
        v.setUint32(0x48, 0x80000020, true)
        b[0x330] = 1
        b[0x04c] = 1
      }),
    )
    expect(r.reservedNonZero).toEqual([
      'KEY_INFO[31:5]',
      'reserved@0x04C',
      'signature.reserved@0x330',
    ])
    expect(r.signerInfo.signingKey).toBe('vcek')
  })

  it('treats the mitigation vectors as reserved before v5 and as fields from v5', () => {
    const set = (base: Uint8Array): Uint8Array =>
      patched(base, (v) => {
        v.setBigUint64(0x200, 1n, true)
      })
    expect(parseSnpReport(set(v3)).reservedNonZero).toEqual(['reserved@0x1F8'])
    expect(parseSnpReport(set(v5)).reservedNonZero).toEqual([])
    expect(parseSnpReport(set(v5)).currentMitVector).toBe(1n)
  })
})

describe('parseSnpReport sizes and input type', () => {
  const base = vector('milan-v3-hostdata')

  it('refuses every truncation length', () => {
    for (let length = 0; length < SNP_REPORT_SIZE; length++) {
      const e = thrown(() => parseSnpReport(base.subarray(0, length)))
      expect(e.code).toBe('ERR_SNP_REPORT_TRUNCATED')
      expect(e.details).toMatchObject({ length, expected: SNP_REPORT_SIZE })
    }
  })

  it('refuses a longer buffer, pointing to the extended-report parser', () => {
    for (const extra of [1, 24, 0x1000]) {
      const longer = new Uint8Array(SNP_REPORT_SIZE + extra)
      longer.set(base)
      const e = thrown(() => parseSnpReport(longer))
      expect(e.code).toBe('ERR_SNP_REPORT_TOO_LONG')
      expect(e.hint).toContain('parseExtendedReport')
    }
  })

  it('accepts a view into a larger buffer', () => {
    const backing = new Uint8Array(SNP_REPORT_SIZE + 16)
    backing.set(base, 8)
    const r = parseSnpReport(backing.subarray(8, 8 + SNP_REPORT_SIZE))
    expect(r.raw).toEqual(base)
    expect(r.raw.byteOffset).toBe(0)
  })

  it('refuses what is not a Uint8Array', () => {
    for (const bad of [null, undefined, 'report', [1, 2], new ArrayBuffer(SNP_REPORT_SIZE)]) {
      const e = thrown(() => parseSnpReport(bad as unknown as Uint8Array))
      expect(e.code).toBe('ERR_SNP_INPUT_TYPE')
      expect(e.category).toBe('usage')
    }
  })
})

describe('bitfield decoders', () => {
  it('decodes every named policy bit', () => {
    const names = [
      'smt',
      'reservedBit17',
      'migrateMa',
      'debug',
      'singleSocket',
      'cxlAllow',
      'memAes256Xts',
      'raplDis',
      'ciphertextHiding',
      'pageSwapDisable',
    ] as const
    names.forEach((name, i) => {
      const policy = decodeSnpPolicy(1n << BigInt(16 + i))
      for (const other of names) expect(policy[other], `${name} → ${other}`).toBe(other === name)
      expect(policy.unknownBits).toEqual([])
    })
    expect(decodeSnpPolicy(0x0a05n)).toMatchObject({ abiMajor: 0x0a, abiMinor: 0x05 })
  })

  it('lists unknown policy bits', () => {
    const policy = decodeSnpPolicy((1n << 26n) | (1n << 40n) | (1n << 63n) | 0x30000n)
    expect(policy.unknownBits).toEqual([26, 40, 63])
    expect(policy.smt).toBe(true)
  })

  it('decodes platform info and lists unknown bits (real Turin sets bit 6)', () => {
    expect(decodeSnpPlatformInfo(0x65n)).toEqual({
      raw: 0x65n,
      smtEnabled: true,
      tsmeEnabled: false,
      eccEnabled: true,
      raplDisabled: false,
      ciphertextHidingEnabled: false,
      aliasCheckComplete: true,
      tioEnabled: false,
      unknownBits: [6],
    })
    const all = decodeSnpPlatformInfo(0xffn)
    expect(all).toMatchObject({
      tsmeEnabled: true,
      raplDisabled: true,
      ciphertextHidingEnabled: true,
      tioEnabled: true,
      unknownBits: [6],
    })
    expect(decodeSnpPlatformInfo((1n << 8n) | (1n << 63n)).unknownBits).toEqual([8, 63])
  })

  it('decodes every signing key code', () => {
    const expected = [
      'vcek',
      'vlek',
      'reserved',
      'reserved',
      'reserved',
      'reserved',
      'reserved',
      'none',
    ]
    expected.forEach((key, code) => {
      const info = decodeSnpSignerInfo(code << 2)
      expect(info.signingKey).toBe(key)
      expect(info.signingKeyCode).toBe(code)
    })
    expect(decodeSnpSignerInfo(0b11)).toMatchObject({ authorKeyEn: true, maskChipKey: true })
  })

  it('parses a report whose PLATFORM_INFO has undocumented bits (never fatal)', () => {
    const r = parseSnpReport(
      patched(vector('milan-v3-hostdata'), (v) => {
        v.setBigUint64(0x40, 0xffff_ffff_ffff_ff65n, true)
      }),
    )
    expect(r.platformInfo.unknownBits[0]).toBe(6)
    expect(r.platformInfo.unknownBits).toHaveLength(57)
  })
})

describe('parseSnpReport properties', () => {
  const known = new Set([
    'KEY_INFO[31:5]',
    'reserved@0x04C',
    'reserved@0x188',
    'reserved@0x18B',
    'reserved@0x1EB',
    'reserved@0x1EF',
    'reserved@0x1F8',
    'reserved@0x208',
    'signature.reserved@0x330',
  ])

  function parsesOrThrowsOurs(bytes: Uint8Array): void {
    try {
      const r = parseSnpReport(bytes)
      expect(r.raw).toEqual(bytes)
      expect(r.signedBytes).toEqual(bytes.subarray(0, SNP_SIGNED_SIZE))
      for (const name of r.reservedNonZero) expect(known.has(name)).toBe(true)
    } catch (e) {
      if (!isInitguardError(e)) throw e
    }
  }

  it('throws nothing but InitguardError for any byte string', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 0x600 }), parsesOrThrowsOurs), {
      numRuns: 300,
    })
  })

  it('parses any 0x4A0 bytes with a known version and algorithm, and reads them back exactly', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: SNP_REPORT_SIZE, maxLength: SNP_REPORT_SIZE }),
        fc.oneof(fc.integer({ min: 0, max: 8 }), fc.nat()),
        fc.oneof(fc.constant(1), fc.nat()),
        (bytes, version, algorithm) => {
          const view = new DataView(bytes.buffer)
          view.setUint32(0, version, true)
          view.setUint32(0x34, algorithm, true)
          parsesOrThrowsOurs(bytes)
        },
      ),
      { numRuns: 300 },
    )
  })

  it('throws nothing but InitguardError for mutated real reports', () => {
    const reports = REPORTS.map(vector)
    fc.assert(
      fc.property(
        fc.constantFrom(...reports),
        fc.array(fc.tuple(fc.nat({ max: SNP_REPORT_SIZE - 1 }), fc.integer({ min: 0, max: 255 })), {
          maxLength: 8,
        }),
        (base, edits) => {
          parsesOrThrowsOurs(
            patched(base, (_, b) => {
              for (const [at, value] of edits) b[at] = value
            }),
          )
        },
      ),
      { numRuns: 300 },
    )
  })
})

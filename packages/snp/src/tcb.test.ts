import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, type InitguardError } from '@initguard/core'
import {
  decodeTcbVersion,
  encodeTcbVersion,
  productFromCpuid,
  productFromName,
  tcbAtLeast,
  tcbComponentsBelow,
  SNP_PRODUCTS,
  type SnpProduct,
  type TcbComponents,
} from './tcb.ts'

function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

describe('decodeTcbVersion', () => {
  it('decodes the Turin layout (microsoft Turin vector, equal to its VCEK extensions)', () => {
    expect(decodeTcbVersion(0x5100000004010101n, 'Turin')).toEqual({
      raw: 0x5100000004010101n,
      fmc: 1,
      bootloader: 1,
      tee: 1,
      snp: 4,
      microcode: 81,
    })
  })

  it('decodes the Milan/Genoa layout (go-sev-guest attestation.bin: BL2 TEE0 SNP5 UCODE68)', () => {
    for (const product of ['Milan', 'Genoa'] as const) {
      const tcb = decodeTcbVersion(0x4405000000000002n, product)
      expect(tcb).toEqual({
        raw: 0x4405000000000002n,
        bootloader: 2,
        tee: 0,
        snp: 5,
        microcode: 68,
      })
      expect('fmc' in tcb).toBe(false)
    }
  })

  it('puts every byte where the layout table says', () => {
    const raw = 0x8877665544332211n
    expect(decodeTcbVersion(raw, 'Milan')).toMatchObject({
      bootloader: 0x11,
      tee: 0x22,
      snp: 0x77,
      microcode: 0x88,
    })
    expect(decodeTcbVersion(raw, 'Turin')).toMatchObject({
      fmc: 0x11,
      bootloader: 0x22,
      tee: 0x33,
      snp: 0x44,
      microcode: 0x88,
    })
  })

  it('keeps reserved bytes in raw, so a re-encode tells them apart', () => {
    const raw = 0x4405000100000002n // byte 4 is reserved on Milan
    const tcb = decodeTcbVersion(raw, 'Milan')
    expect(tcb.raw).toBe(raw)
    expect(encodeTcbVersion(tcb, 'Milan')).not.toBe(raw)
  })

  it('rejects values outside u64 and unknown products', () => {
    expect(thrown(() => decodeTcbVersion(-1n, 'Milan')).code).toBe('ERR_SNP_TCB_INVALID')
    expect(thrown(() => decodeTcbVersion(1n << 64n, 'Milan')).code).toBe('ERR_SNP_TCB_INVALID')
    expect(thrown(() => decodeTcbVersion(1 as unknown as bigint, 'Milan')).code).toBe(
      'ERR_SNP_TCB_INVALID',
    )
    expect(thrown(() => decodeTcbVersion(0n, 'Rome' as SnpProduct)).code).toBe(
      'ERR_SNP_PRODUCT_INVALID',
    )
  })
})

describe('encodeTcbVersion', () => {
  it('is the inverse of decodeTcbVersion for every product', () => {
    const spl = fc.integer({ min: 0, max: 255 })
    fc.assert(
      fc.property(
        fc.constantFrom(...SNP_PRODUCTS),
        spl,
        spl,
        spl,
        spl,
        spl,
        (product, fmc, bootloader, tee, snp, microcode) => {
          const components: TcbComponents =
            product === 'Turin'
              ? { fmc, bootloader, tee, snp, microcode }
              : { bootloader, tee, snp, microcode }
          const raw = encodeTcbVersion(components, product)
          expect(decodeTcbVersion(raw, product)).toEqual({ raw, ...components })
        },
      ),
    )
  })

  it('encodes the Turin vector value', () => {
    expect(
      encodeTcbVersion({ fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }, 'Turin'),
    ).toBe(0x5100000004010101n)
    expect(encodeTcbVersion({ bootloader: 3, tee: 0, snp: 8, microcode: 115 }, 'Milan')).toBe(
      0x7308000000000003n,
    )
  })

  it('refuses components that do not fit or do not exist in the layout', () => {
    const base = { bootloader: 1, tee: 1, snp: 1, microcode: 1 }
    for (const bad of [256, -1, 1.5, Number.NaN]) {
      expect(thrown(() => encodeTcbVersion({ ...base, snp: bad }, 'Milan')).code).toBe(
        'ERR_SNP_TCB_COMPONENT_INVALID',
      )
    }
    expect(thrown(() => encodeTcbVersion({ ...base, fmc: 300 }, 'Turin')).code).toBe(
      'ERR_SNP_TCB_COMPONENT_INVALID',
    )
    expect(thrown(() => encodeTcbVersion(base, 'Turin')).details).toMatchObject({
      component: 'fmc',
    })
    expect(thrown(() => encodeTcbVersion({ ...base, fmc: 1 }, 'Genoa')).code).toBe(
      'ERR_SNP_TCB_COMPONENT_INVALID',
    )
    expect(thrown(() => encodeTcbVersion(base, 'Naples' as SnpProduct)).code).toBe(
      'ERR_SNP_PRODUCT_INVALID',
    )
  })
})

describe('tcbAtLeast', () => {
  const minimum = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }

  it('compares component-wise, not as one number', () => {
    expect(tcbAtLeast(minimum, minimum)).toBe(true)
    expect(tcbAtLeast({ ...minimum, microcode: 200 }, minimum)).toBe(true)
    // A higher microcode does not make up for an older SNP firmware.
    expect(tcbAtLeast({ ...minimum, snp: 7, microcode: 255 }, minimum)).toBe(false)
    expect(tcbAtLeast({ ...minimum, bootloader: 2 }, minimum)).toBe(false)
    expect(tcbAtLeast({ ...minimum, tee: 0 }, { ...minimum, tee: 1 })).toBe(false)
    expect(tcbAtLeast({ ...minimum, microcode: 114 }, minimum)).toBe(false)
  })

  it('needs fmc on both sides or on neither', () => {
    // A Turin TCB against a minimum without fmc: its FMC SPL would have no bound.
    expect(tcbAtLeast({ ...minimum, fmc: 0 }, minimum)).toBe(false)
    expect(tcbAtLeast({ ...minimum, fmc: 255 }, minimum)).toBe(false)
    expect(tcbAtLeast({ ...minimum, fmc: 2 }, { ...minimum, fmc: 1 })).toBe(true)
    expect(tcbAtLeast({ ...minimum, fmc: 0 }, { ...minimum, fmc: 1 })).toBe(false)
    expect(tcbAtLeast(minimum, { ...minimum, fmc: 0 })).toBe(false)
  })

  it('accepts decoded TCBs', () => {
    const tcb = decodeTcbVersion(0x5100000004010101n, 'Turin')
    expect(tcbAtLeast(tcb, { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 })).toBe(true)
    expect(tcbAtLeast(tcb, { fmc: 1, bootloader: 1, tee: 1, snp: 5, microcode: 81 })).toBe(false)
  })
})

describe('tcbComponentsBelow', () => {
  const minimum = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }

  it('names the components below the minimum, fmc included, and is empty exactly when tcbAtLeast holds', () => {
    expect(tcbComponentsBelow(minimum, minimum)).toEqual([])
    expect(tcbComponentsBelow({ ...minimum, snp: 7, microcode: 255 }, minimum)).toEqual(['snp'])
    expect(tcbComponentsBelow({ bootloader: 0, tee: 0, snp: 0, microcode: 0 }, minimum)).toEqual([
      'bootloader',
      'snp',
      'microcode',
    ])
    // fmc on one side only: a Turin TCB against a bound without fmc, or the other way round.
    expect(tcbComponentsBelow({ ...minimum, fmc: 9 }, minimum)).toEqual(['fmc'])
    expect(tcbComponentsBelow(minimum, { ...minimum, fmc: 0 })).toEqual(['fmc'])
    expect(tcbComponentsBelow({ ...minimum, fmc: 0 }, { ...minimum, fmc: 1 })).toEqual(['fmc'])
    expect(tcbComponentsBelow({ ...minimum, fmc: 1 }, { ...minimum, fmc: 1 })).toEqual([])
    const spl = fc.integer({ min: 0, max: 255 })
    const fmc = fc.option(spl, { nil: undefined })
    const tcb = fc
      .record({ fmc, bootloader: spl, tee: spl, snp: spl, microcode: spl })
      .map(({ fmc: f, ...rest }) => (f === undefined ? rest : { ...rest, fmc: f }))
    fc.assert(
      fc.property(tcb, tcb, (a, b) => {
        expect(tcbComponentsBelow(a, b).length === 0).toBe(tcbAtLeast(a, b))
      }),
    )
  })
})

describe('productFromCpuid', () => {
  it('maps the family and model ranges', () => {
    const cases: [number, number, SnpProduct | 'unknown'][] = [
      [0x19, 0x00, 'Milan'],
      [0x19, 0x01, 'Milan'],
      [0x19, 0x0f, 'Milan'],
      [0x19, 0x10, 'Genoa'],
      [0x19, 0x11, 'Genoa'],
      [0x19, 0x1f, 'Genoa'],
      [0x19, 0xa0, 'Genoa'],
      [0x19, 0xaf, 'Genoa'],
      [0x19, 0x20, 'unknown'],
      [0x19, 0x9f, 'unknown'],
      [0x19, 0xb0, 'unknown'],
      [0x1a, 0x00, 'Turin'],
      [0x1a, 0x02, 'Turin'],
      [0x1a, 0x11, 'Turin'],
      [0x1a, 0x12, 'unknown'],
      [0x1a, 0x50, 'unknown'], // Venice
      [0x17, 0x01, 'unknown'], // Rome
      [0x00, 0x00, 'unknown'], // a v2 report's zeros
    ]
    for (const [family, model, product] of cases) {
      expect(productFromCpuid(family, model), `${family}/${model}`).toBe(product)
    }
  })

  it('never throws', () => {
    fc.assert(
      fc.property(fc.integer(), fc.double(), (family, model) => {
        expect(['Milan', 'Genoa', 'Turin', 'unknown']).toContain(productFromCpuid(family, model))
      }),
    )
  })
})

describe('productFromName', () => {
  it('reads VCEK and VLEK productName values', () => {
    expect(productFromName('Milan-B0')).toBe('Milan')
    expect(productFromName('Milan-B1')).toBe('Milan')
    expect(productFromName('Milan')).toBe('Milan')
    expect(productFromName('Genoa-B2')).toBe('Genoa')
    expect(productFromName('Genoa')).toBe('Genoa')
    expect(productFromName('Turin')).toBe('Turin')
    expect(productFromName('Turin-C1')).toBe('Turin')
  })

  it('matches exactly', () => {
    for (const name of [
      'milan',
      'Milan-',
      'Milan-b0',
      'Milan B0',
      'XMilan',
      'Milan-B0x',
      'Venice',
      '',
    ]) {
      expect(productFromName(name), name).toBe('unknown')
    }
    expect(productFromName(7 as unknown as string)).toBe('unknown')
  })
})

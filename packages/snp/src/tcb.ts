/**
 * SEV-SNP TCB_VERSION values and product lines.
 *
 * A TCB_VERSION is a 64-bit value made of one security patch level (SPL) per firmware component.
 * Which byte holds which component depends on the product line: Turin added a first-stage
 * firmware (FMC) SPL and moved everything else.
 *
 * | byte | Milan / Genoa | Turin     |
 * | ---- | ------------- | --------- |
 * | 0    | BOOT_LOADER   | FMC       |
 * | 1    | TEE           | BOOT_LOADER |
 * | 2    | reserved      | TEE       |
 * | 3    | reserved      | SNP       |
 * | 4    | reserved      | reserved  |
 * | 5    | reserved      | reserved  |
 * | 6    | SNP           | reserved  |
 * | 7    | MICROCODE     | MICROCODE |
 *
 * Byte 0 is the least significant byte: the value is stored little-endian in the report.
 *
 * @see AMD SEV-SNP ABI specification (56860), TCB_VERSION; verifiers.md §1.3 and §1.6
 * @module
 */
import { UsageError } from '@initguard/core'

/** An AMD EPYC product line that supports SEV-SNP. */
export type SnpProduct = 'Milan' | 'Genoa' | 'Turin'

/** Every {@link SnpProduct}, oldest first. */
export const SNP_PRODUCTS: readonly SnpProduct[] = ['Milan', 'Genoa', 'Turin']

/**
 * The security patch levels of a TCB, without the raw value: what a VCEK certificate states, what
 * a policy sets as a minimum, and what {@link encodeTcbVersion} takes. `fmc` is present on Turin
 * and later only.
 */
export interface TcbComponents {
  /** First-stage firmware (FMC) SPL; Turin and later only. */
  readonly fmc?: number
  /** PSP boot loader SPL. */
  readonly bootloader: number
  /** PSP OS (TEE) SPL. */
  readonly tee: number
  /** SNP firmware SPL. */
  readonly snp: number
  /** Lowest microcode patch level of all cores. */
  readonly microcode: number
}

/** A decoded TCB_VERSION: the raw 64-bit value and its components for one product line. */
export interface TcbVersion extends TcbComponents {
  /**
   * The raw TCB_VERSION, including any reserved bytes (which {@link decodeTcbVersion} ignores;
   * compare `encodeTcbVersion(decoded, product) === raw` to detect them).
   */
  readonly raw: bigint
}

const U64_MAX = (1n << 64n) - 1n

/**
 * Byte `index` (0 = least significant) of a 64-bit value given as its two 32-bit halves: two
 * BigInt operations per TCB instead of three per byte (each allocates), which a warm verification
 * decodes several TCBs with.
 */
function byteOf(low: number, high: number, index: number): number {
  return index < 4 ? (low >>> (index * 8)) & 0xff : (high >>> ((index - 4) * 8)) & 0xff
}

function usesTurinLayout(product: SnpProduct): boolean {
  switch (product) {
    case 'Milan':
    case 'Genoa':
      return false
    case 'Turin':
      return true
  }
}

function checkProduct(product: unknown): SnpProduct {
  if (product === 'Milan' || product === 'Genoa' || product === 'Turin') return product
  throw new UsageError('ERR_SNP_PRODUCT_INVALID', `unknown SEV-SNP product line`, {
    details: { expected: SNP_PRODUCTS },
    hint: 'give one of Milan, Genoa or Turin',
  })
}

/**
 * Split a TCB_VERSION into its components using the byte layout of `product` (see the module
 * comment). Reserved bytes are ignored here; `raw` keeps them.
 *
 * @example
 * ```ts
 * decodeTcbVersion(0x5100000004010101n, 'Turin')
 * // { raw: 0x5100000004010101n, fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }
 * decodeTcbVersion(0x4405000000000002n, 'Milan')
 * // { raw: …, bootloader: 2, tee: 0, snp: 5, microcode: 68 }
 * ```
 *
 * @throws {@link UsageError} `ERR_SNP_TCB_INVALID` when `raw` is not a bigint in the u64 range;
 *   `ERR_SNP_PRODUCT_INVALID` when `product` is not a known product line.
 * @see verifiers.md §1.3
 */
export function decodeTcbVersion(raw: bigint, product: SnpProduct): TcbVersion {
  if (typeof raw !== 'bigint' || raw < 0n || raw > U64_MAX) {
    throw new UsageError('ERR_SNP_TCB_INVALID', 'a TCB_VERSION must be a bigint from 0 to 2^64-1', {
      details: { type: typeof raw },
    })
  }
  const low = Number(raw & 0xffff_ffffn)
  const high = Number(raw >> 32n)
  if (usesTurinLayout(checkProduct(product))) {
    return {
      raw,
      fmc: byteOf(low, high, 0),
      bootloader: byteOf(low, high, 1),
      tee: byteOf(low, high, 2),
      snp: byteOf(low, high, 3),
      microcode: byteOf(low, high, 7),
    }
  }
  return {
    raw,
    bootloader: byteOf(low, high, 0),
    tee: byteOf(low, high, 1),
    snp: byteOf(low, high, 6),
    microcode: byteOf(low, high, 7),
  }
}

function checkSpl(value: unknown, name: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff) {
    throw new UsageError(
      'ERR_SNP_TCB_COMPONENT_INVALID',
      `TCB component ${name} must be an integer from 0 to 255`,
      {
        details: { component: name },
      },
    )
  }
  return value
}

/**
 * Build the 64-bit TCB_VERSION of `components` in the byte layout of `product`; reserved bytes are
 * zero. The inverse of {@link decodeTcbVersion} for values whose reserved bytes are zero.
 *
 * @example
 * ```ts
 * encodeTcbVersion({ fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }, 'Turin')
 * // 0x5100000004010101n
 * ```
 *
 * @throws {@link UsageError} `ERR_SNP_TCB_COMPONENT_INVALID` when a component is not an integer
 *   from 0 to 255, when `fmc` is missing for Turin, or when `fmc` is given for Milan or Genoa
 *   (their layout has no place for it); `ERR_SNP_PRODUCT_INVALID` for an unknown product line.
 */
export function encodeTcbVersion(components: TcbComponents, product: SnpProduct): bigint {
  const turin = usesTurinLayout(checkProduct(product))
  const bootloader = BigInt(checkSpl(components.bootloader, 'bootloader'))
  const tee = BigInt(checkSpl(components.tee, 'tee'))
  const snp = BigInt(checkSpl(components.snp, 'snp'))
  const microcode = BigInt(checkSpl(components.microcode, 'microcode'))
  if (turin) {
    if (components.fmc === undefined) {
      throw new UsageError(
        'ERR_SNP_TCB_COMPONENT_INVALID',
        'a Turin TCB_VERSION needs an fmc component',
        {
          details: { component: 'fmc', product },
        },
      )
    }
    const fmc = BigInt(checkSpl(components.fmc, 'fmc'))
    return fmc | (bootloader << 8n) | (tee << 16n) | (snp << 24n) | (microcode << 56n)
  }
  if (components.fmc !== undefined) {
    throw new UsageError(
      'ERR_SNP_TCB_COMPONENT_INVALID',
      `a ${product} TCB_VERSION has no fmc component`,
      {
        details: { component: 'fmc', product },
        hint: 'leave fmc out for Milan and Genoa',
      },
    )
  }
  return bootloader | (tee << 8n) | (snp << 48n) | (microcode << 56n)
}

/**
 * True when every component of `tcb` is at least the same component of `minimum`: the
 * component-wise order AMD defines for TCBs (a plain numeric compare of the raw values is wrong,
 * since a newer microcode cannot make up for an older SNP firmware).
 *
 * `fmc` must be on both sides or on neither: a Milan or Genoa TCB never meets a Turin minimum, and
 * a Turin TCB never meets a minimum without `fmc` (its FMC SPL would have no bound).
 *
 * @example
 * ```ts
 * tcbAtLeast(decodeTcbVersion(report.reportedTcb, 'Milan'), { bootloader: 3, tee: 0, snp: 8, microcode: 115 })
 * ```
 */
export function tcbAtLeast(tcb: TcbComponents, minimum: TcbComponents): boolean {
  if (minimum.fmc !== undefined && (tcb.fmc === undefined || tcb.fmc < minimum.fmc)) return false
  if (minimum.fmc === undefined && tcb.fmc !== undefined) return false
  return (
    tcb.bootloader >= minimum.bootloader &&
    tcb.tee >= minimum.tee &&
    tcb.snp >= minimum.snp &&
    tcb.microcode >= minimum.microcode
  )
}

/**
 * The components of `tcb` that are below the same component of `minimum`, by name (`fmc`,
 * `bootloader`, `tee`, `snp`, `microcode`), in that order: empty exactly when
 * {@link tcbAtLeast} is true. `fmc` is listed when `minimum` has it and `tcb` does not (a Milan or
 * Genoa TCB against a Turin minimum), and when `tcb` has it and `minimum` does not (a Turin TCB
 * against a minimum that would leave its FMC SPL unbounded), so that a refusal can say which
 * component is too low, or unbounded.
 *
 * @example
 * ```ts
 * tcbComponentsBelow({ bootloader: 3, tee: 0, snp: 8, microcode: 115 }, { bootloader: 3, tee: 0, snp: 9, microcode: 200 })
 * // ['snp', 'microcode']
 * ```
 */
export function tcbComponentsBelow(
  tcb: TcbComponents,
  minimum: TcbComponents,
): ('fmc' | 'bootloader' | 'tee' | 'snp' | 'microcode')[] {
  const below: ('fmc' | 'bootloader' | 'tee' | 'snp' | 'microcode')[] = []
  if (
    minimum.fmc !== undefined
      ? tcb.fmc === undefined || tcb.fmc < minimum.fmc
      : tcb.fmc !== undefined
  )
    below.push('fmc')
  for (const component of ['bootloader', 'tee', 'snp', 'microcode'] as const)
    if (tcb[component] < minimum[component]) below.push(component)
  return below
}

/**
 * The product line of a report's CPUID fields (report v3 and later: CPUID_FAM_ID at 0x188 and
 * CPUID_MOD_ID at 0x189, the combined family and model). Never throws: anything it does not know
 * (a future product, a v2 report's zeros) gives `'unknown'`.
 *
 * | family | models                | product |
 * | ------ | --------------------- | ------- |
 * | 0x19   | 0x00–0x0F             | Milan   |
 * | 0x19   | 0x10–0x1F, 0xA0–0xAF  | Genoa   |
 * | 0x1A   | 0x00–0x11             | Turin   |
 *
 * @example
 * ```ts
 * productFromCpuid(0x19, 0x01) // 'Milan'
 * productFromCpuid(0x19, 0xa0) // 'Genoa'
 * productFromCpuid(0x1a, 0x02) // 'Turin'
 * ```
 *
 * @see verifiers.md §1.6; relying-party.md §2.1
 */
export function productFromCpuid(family: number, model: number): SnpProduct | 'unknown' {
  if (family === 0x19) {
    if (model >= 0x00 && model <= 0x0f) return 'Milan'
    if ((model >= 0x10 && model <= 0x1f) || (model >= 0xa0 && model <= 0xaf)) return 'Genoa'
  } else if (family === 0x1a) {
    if (model >= 0x00 && model <= 0x11) return 'Turin'
  }
  return 'unknown'
}

const PRODUCT_NAME = /^(Milan|Genoa|Turin)(?:-[A-Z][0-9]{1,2})?$/

/**
 * The product line of a VCEK or VLEK `productName` extension (OID 1.3.6.1.4.1.3704.1.2):
 * `Milan-B0`, `Milan-B1`, `Genoa-B2`, `Genoa`, `Turin`, … (a VLEK carries no stepping). Matching is
 * exact and case-sensitive; anything else gives `'unknown'`.
 *
 * @example
 * ```ts
 * productFromName('Milan-B0') // 'Milan'
 * productFromName('Turin') // 'Turin'
 * productFromName('milan') // 'unknown'
 * ```
 *
 * @see verifiers.md §1.5
 */
export function productFromName(productName: string): SnpProduct | 'unknown' {
  if (typeof productName !== 'string') return 'unknown'
  const match = PRODUCT_NAME.exec(productName)
  return match === null ? 'unknown' : checkProduct(match[1])
}

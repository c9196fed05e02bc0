/**
 * Bitfields of TDX and SGX reports: TD ATTRIBUTES, XFAM / XFRM (XSAVE feature masks) and the SGX
 * enclave ATTRIBUTES flags, decoded to named flags.
 *
 * Decoding never fails: bits this version does not name are listed in `unknownBits`, so a report
 * from newer hardware still parses and the appraisal decides what to make of them.
 *
 * @see Intel TDX Module ABI specification, "ATTRIBUTES" (TD attributes); Linux
 *   `arch/x86/include/asm/shared/tdx.h` (`TDX_ATTR_*` bit numbers); Intel SDM vol. 1 §13
 *   (XSAVE state components) and vol. 3D §35.7 (SGX `ATTRIBUTES`).
 * @module
 */

import { bitFlagDecoder, memoizedWordDecoder } from '@initguard/core'

const U64_MASK = (1n << 64n) - 1n

/**
 * TD ATTRIBUTES (TDATTRIBUTES in a quote body, `TDINFO.ATTRIBUTES` in a TDREPORT), decoded.
 *
 * | bit | name            | meaning                                                        |
 * | --- | --------------- | -------------------------------------------------------------- |
 * | 0   | DEBUG           | the TD is debuggable: the host can read and write its state    |
 * | 4   | HGS_PLUS_PROF   | HGS+ profiling allowed (TDX 1.5)                               |
 * | 5   | PERF_PROF       | performance profiling allowed (TDX 1.5)                        |
 * | 6   | PMT_PROF        | PMT profiling allowed (TDX 1.5)                                |
 * | 16  | ICSSD           | ICSSD allowed                                                  |
 * | 27  | LASS            | linear address space separation allowed                       |
 * | 28  | SEPT_VE_DISABLE | EPT-violation #VE on pending pages is disabled                 |
 * | 29  | MIGRATABLE      | the TD may be migrated                                         |
 * | 30  | PKS             | supervisor protection keys allowed                             |
 * | 31  | KL              | Key Locker allowed                                             |
 * | 62  | TPA             | TD partitioning allowed                                        |
 * | 63  | PERFMON         | the TD may use the host's performance monitoring               |
 *
 * All other bits are reserved and listed in `unknownBits`.
 *
 * Bits 7:0 form the TUD ("TD under debug") group of the TDX module ABI (TD attributes definition):
 * if any of them is set, the TD is untrusted. That covers DEBUG and the profiling bits 4–6, and
 * reserved bits 1–3 and 7 that a newer module may define; `underDebug` says whether any is set,
 * and is what an appraisal that refuses debug TDs must read (DEBUG alone misses the others).
 */
export interface TdAttributes {
  /** The raw 64-bit value (little-endian in the report). */
  readonly raw: bigint
  /** Bit 0: DEBUG. A debuggable TD gives the host access to its memory and registers. */
  readonly debug: boolean
  /**
   * Any bit of the TUD group (bits 7:0: DEBUG, HGS_PLUS_PROF, PERF_PROF, PMT_PROF, reserved) is
   * set: the TD is under debug or profiling, and untrusted.
   */
  readonly underDebug: boolean
  /** Bit 4: HGS_PLUS_PROF. */
  readonly hgsPlusProf: boolean
  /** Bit 5: PERF_PROF. */
  readonly perfProf: boolean
  /** Bit 6: PMT_PROF. */
  readonly pmtProf: boolean
  /** Bit 16: ICSSD. */
  readonly icssd: boolean
  /** Bit 27: LASS. */
  readonly lass: boolean
  /** Bit 28: SEPT_VE_DISABLE. */
  readonly septVeDisable: boolean
  /** Bit 29: MIGRATABLE. */
  readonly migratable: boolean
  /** Bit 30: PKS (supervisor protection keys). */
  readonly pks: boolean
  /** Bit 31: KL (Key Locker). */
  readonly keyLocker: boolean
  /** Bit 62: TPA (TD partitioning). */
  readonly tpa: boolean
  /** Bit 63: PERFMON. */
  readonly perfmon: boolean
  /** Positions of set bits this version does not name, ascending. */
  readonly unknownBits: readonly number[]
}

const decodeTdFlags = bitFlagDecoder({
  debug: 0,
  hgsPlusProf: 4,
  perfProf: 5,
  pmtProf: 6,
  icssd: 16,
  lass: 27,
  septVeDisable: 28,
  migratable: 29,
  pks: 30,
  keyLocker: 31,
  tpa: 62,
  perfmon: 63,
})

/**
 * Decode a TD ATTRIBUTES value (see {@link TdAttributes} for the bits). Never throws: unknown bits
 * are listed. Only the low 64 bits of `raw` are read.
 *
 * @example
 * ```ts
 * decodeTdAttributes(0x10000001n) // { debug: true, septVeDisable: true, … }
 * ```
 */
export function decodeTdAttributes(raw: bigint): TdAttributes {
  return decodeTdWord(raw & U64_MASK)
}

// Decoded once per distinct value (frozen, shared): see memoizedWordDecoder.
/** The TUD ("TD under debug") group: bits 7:0. */
const TD_UNDER_DEBUG_MASK = 0xffn

const decodeTdWord = memoizedWordDecoder((value): TdAttributes => ({
  raw: value,
  ...decodeTdFlags(value),
  underDebug: (value & TD_UNDER_DEBUG_MASK) !== 0n,
}))

/**
 * An XSAVE feature mask, decoded: TDX XFAM (the features a TD may use) or the XFRM half of SGX
 * ATTRIBUTES. Bit positions are XSAVE state components (Intel SDM vol. 1 §13.1).
 *
 * | bit | XSAVE state component  |
 * | --- | ---------------------- |
 * | 0   | x87 FPU                |
 * | 1   | SSE                    |
 * | 2   | AVX                    |
 * | 3   | MPX BNDREGS            |
 * | 4   | MPX BNDCSR             |
 * | 5   | AVX-512 opmask         |
 * | 6   | AVX-512 ZMM_Hi256      |
 * | 7   | AVX-512 Hi16_ZMM       |
 * | 8   | PT (processor trace)   |
 * | 9   | PKRU                   |
 * | 10  | PASID                  |
 * | 11  | CET user (CET_U)       |
 * | 12  | CET supervisor (CET_S) |
 * | 13  | HDC                    |
 * | 14  | UINTR                  |
 * | 15  | LBR                    |
 * | 16  | HWP                    |
 * | 17  | AMX TILECFG            |
 * | 18  | AMX TILEDATA           |
 * | 19  | APX extended GPRs      |
 *
 * Bits 20–63 are listed in `unknownBits`.
 */
export interface XsaveFeatures {
  /** The raw 64-bit value (little-endian in the report). */
  readonly raw: bigint
  /** Bit 0: x87 FPU state. */
  readonly x87: boolean
  /** Bit 1: SSE state. */
  readonly sse: boolean
  /** Bit 2: AVX state. */
  readonly avx: boolean
  /** Bit 3: MPX bound registers. */
  readonly mpxBndregs: boolean
  /** Bit 4: MPX bound configuration and status. */
  readonly mpxBndcsr: boolean
  /** Bit 5: AVX-512 opmask registers. */
  readonly avx512Opmask: boolean
  /** Bit 6: AVX-512 upper halves of ZMM0–15. */
  readonly avx512ZmmHi256: boolean
  /** Bit 7: AVX-512 ZMM16–31. */
  readonly avx512Hi16Zmm: boolean
  /** Bit 8: processor trace. */
  readonly pt: boolean
  /** Bit 9: protection-key rights register (user protection keys). */
  readonly pkru: boolean
  /** Bit 10: PASID state. */
  readonly pasid: boolean
  /** Bit 11: CET user state. */
  readonly cetUser: boolean
  /** Bit 12: CET supervisor state. */
  readonly cetSupervisor: boolean
  /** Bit 13: hardware duty cycling. */
  readonly hdc: boolean
  /** Bit 14: user interrupts. */
  readonly uintr: boolean
  /** Bit 15: last branch records. */
  readonly lbr: boolean
  /** Bit 16: hardware P-states. */
  readonly hwp: boolean
  /** Bit 17: AMX tile configuration. */
  readonly amxTilecfg: boolean
  /** Bit 18: AMX tile data. */
  readonly amxTiledata: boolean
  /** Bit 19: APX extended general-purpose registers. */
  readonly apx: boolean
  /** Positions of set bits this version does not name (20–63), ascending. */
  readonly unknownBits: readonly number[]
}

const decodeXsaveFlags = bitFlagDecoder({
  x87: 0,
  sse: 1,
  avx: 2,
  mpxBndregs: 3,
  mpxBndcsr: 4,
  avx512Opmask: 5,
  avx512ZmmHi256: 6,
  avx512Hi16Zmm: 7,
  pt: 8,
  pkru: 9,
  pasid: 10,
  cetUser: 11,
  cetSupervisor: 12,
  hdc: 13,
  uintr: 14,
  lbr: 15,
  hwp: 16,
  amxTilecfg: 17,
  amxTiledata: 18,
  apx: 19,
})

/**
 * Decode an XSAVE feature mask, TDX XFAM or SGX XFRM (see {@link XsaveFeatures} for the bits).
 * Never throws: unknown bits are listed. Only the low 64 bits of `raw` are read.
 *
 * @example
 * ```ts
 * decodeXsaveFeatures(0x642e7n).amxTiledata // true
 * ```
 */
export function decodeXsaveFeatures(raw: bigint): XsaveFeatures {
  return decodeXsaveWord(raw & U64_MASK)
}

const decodeXsaveWord = memoizedWordDecoder((value): XsaveFeatures => ({
  raw: value,
  ...decodeXsaveFlags(value),
}))

/**
 * SGX enclave ATTRIBUTES (16 bytes: FLAGS u64 LE, then XFRM u64 LE), decoded.
 *
 * | FLAGS bit | name           | meaning                                                  |
 * | --------- | -------------- | -------------------------------------------------------- |
 * | 0         | INIT           | the enclave has been initialised (always set in reports) |
 * | 1         | DEBUG          | debug enclave: its memory can be read by a debugger      |
 * | 2         | MODE64BIT      | 64-bit enclave                                           |
 * | 4         | PROVISIONKEY   | may derive the provisioning key (set for the QE and PCE) |
 * | 5         | EINITTOKEN_KEY | may derive the launch key                                |
 * | 6         | CET            | CET attributes enabled                                   |
 * | 7         | KSS            | key separation and sharing: CONFIGID/CONFIGSVN/ISVEXTPRODID/ISVFAMILYID are in use |
 * | 10        | AEXNOTIFY      | the enclave may get AEX notifications                    |
 *
 * Other FLAGS bits are listed in `unknownFlagBits`; XFRM is decoded as {@link XsaveFeatures}.
 */
export interface SgxAttributes {
  /** FLAGS, the low 8 bytes. */
  readonly flags: bigint
  /** Bit 0: INIT. */
  readonly init: boolean
  /** Bit 1: DEBUG. */
  readonly debug: boolean
  /** Bit 2: MODE64BIT. */
  readonly mode64Bit: boolean
  /** Bit 4: PROVISIONKEY. */
  readonly provisionKey: boolean
  /** Bit 5: EINITTOKEN_KEY. */
  readonly einitTokenKey: boolean
  /** Bit 6: CET. */
  readonly cet: boolean
  /** Bit 7: KSS. */
  readonly kss: boolean
  /** Bit 10: AEXNOTIFY. */
  readonly aexNotify: boolean
  /** Positions of set FLAGS bits this version does not name, ascending. */
  readonly unknownFlagBits: readonly number[]
  /** XFRM, the high 8 bytes: the XSAVE features the enclave may use. */
  readonly xfrm: XsaveFeatures
}

const decodeSgxFlags = bitFlagDecoder({
  init: 0,
  debug: 1,
  mode64Bit: 2,
  provisionKey: 4,
  einitTokenKey: 5,
  cet: 6,
  kss: 7,
  aexNotify: 10,
})

/**
 * Decode SGX ATTRIBUTES from its two 64-bit halves (see {@link SgxAttributes} for the bits). Never
 * throws: unknown bits are listed.
 *
 * @example
 * ```ts
 * decodeSgxAttributes(0x7n, 0xe7n).debug // true
 * ```
 */
export function decodeSgxAttributes(flags: bigint, xfrm: bigint): SgxAttributes {
  // Both halves in one word for the memory: FLAGS low, XFRM high.
  return decodeSgxWord(((xfrm & U64_MASK) << 64n) | (flags & U64_MASK))
}

const decodeSgxWord = memoizedWordDecoder((word): SgxAttributes => {
  const value = word & U64_MASK
  const { unknownBits, ...named } = decodeSgxFlags(value)
  return {
    flags: value,
    ...named,
    unknownFlagBits: unknownBits,
    xfrm: decodeXsaveFeatures(word >> 64n),
  }
})

/**
 * Rules on single bits of GUEST_POLICY and PLATFORM_INFO: a rule names a bit and the value it must
 * have (`{ smt: false }`: refuse a guest whose policy allows SMT; `{ singleSocket: true }`: refuse
 * one whose policy does not restrict it to one socket). Each key binds exactly that bit; a bit the
 * rule does not name is not checked.
 *
 * GUEST_POLICY is chosen by whoever launches the guest and enforced by the firmware for the
 * guest's life (a guest whose policy forbids SMT is not launched on a host with SMT enabled), so a
 * rule on it says what the launch promised. PLATFORM_INFO is the host's state when the report was
 * made (SMT_EN, TSME_EN, ECC_EN…): a rule on it says what the platform is now, including what no
 * guest policy bit can require (TSME, ECC memory, the completed DRAM alias check).
 *
 * DEBUG and MIGRATE_MA are not here: they are refused by default and accepted with `allowDebug` and
 * `allowMigrationAgent`. ABI_MAJOR/ABI_MINOR are bounded by `minimumAbi`.
 *
 * Bit positions: AMD SEV-SNP ABI specification 56860 (GUEST_POLICY, PLATFORM_INFO; PAGE_SWAP_DISABLE
 * from ABI 1.58), the same as go-sev-guest `abi.go` and Linux `include/linux/psp-sev.h`
 * (`SNP_POLICY_MASK_*`); verifiers.md §1.2. {@link decodeSnpPolicy} and
 * {@link decodeSnpPlatformInfo} decode them; the tables below name them for messages.
 *
 * @module
 */
import type { PolicyChecker } from '@initguard/core'
import type { SnpGuestPolicy, SnpPlatformInfo } from './report.ts'

/** One bit a rule may name: its position and its name in the AMD specification. */
export interface SnpPolicyBit {
  readonly bit: number
  readonly name: string
}

/** The GUEST_POLICY bits a rule may name. */
export type SnpGuestPolicyRuleKey =
  | 'smt'
  | 'singleSocket'
  | 'cxlAllow'
  | 'memAes256Xts'
  | 'raplDis'
  | 'ciphertextHiding'
  | 'pageSwapDisable'

/**
 * The GUEST_POLICY bits a rule may name, keyed as {@link SnpGuestPolicy} names them. `smt` and
 * `cxlAllow` permit something (a rule `false` forbids it, as go-sev-guest's `validatePolicy` does
 * when its option is unset); the others require a protection (a rule `true` requires it).
 */
export const SNP_GUEST_POLICY_RULE_BITS: Readonly<Record<SnpGuestPolicyRuleKey, SnpPolicyBit>> = {
  smt: { bit: 16, name: 'SMT' },
  singleSocket: { bit: 20, name: 'SINGLE_SOCKET' },
  cxlAllow: { bit: 21, name: 'CXL_ALLOW' },
  memAes256Xts: { bit: 22, name: 'MEM_AES_256_XTS' },
  raplDis: { bit: 23, name: 'RAPL_DIS' },
  ciphertextHiding: { bit: 24, name: 'CIPHERTEXT_HIDING_DRAM' },
  pageSwapDisable: { bit: 25, name: 'PAGE_SWAP_DISABLE' },
} satisfies Partial<Record<keyof SnpGuestPolicy, SnpPolicyBit>>

/** The PLATFORM_INFO bits a rule may name. */
export type SnpPlatformInfoRuleKey =
  | 'smtEnabled'
  | 'tsmeEnabled'
  | 'eccEnabled'
  | 'raplDisabled'
  | 'ciphertextHidingEnabled'
  | 'aliasCheckComplete'
  | 'tioEnabled'

/** The PLATFORM_INFO bits a rule may name, keyed as {@link SnpPlatformInfo} names them. */
export const SNP_PLATFORM_INFO_RULE_BITS: Readonly<Record<SnpPlatformInfoRuleKey, SnpPolicyBit>> = {
  smtEnabled: { bit: 0, name: 'SMT_EN' },
  tsmeEnabled: { bit: 1, name: 'TSME_EN' },
  eccEnabled: { bit: 2, name: 'ECC_EN' },
  raplDisabled: { bit: 3, name: 'RAPL_DIS' },
  ciphertextHidingEnabled: { bit: 4, name: 'CIPHERTEXT_HIDING_DRAM_EN' },
  aliasCheckComplete: { bit: 5, name: 'ALIAS_CHECK_COMPLETE' },
  tioEnabled: { bit: 7, name: 'TIO_EN' },
} satisfies Partial<Record<keyof SnpPlatformInfo, SnpPolicyBit>>

/** A GUEST_POLICY rule: each named bit must have the given value (true: set, false: clear). */
export type SnpGuestPolicyRule = Readonly<Partial<Record<SnpGuestPolicyRuleKey, boolean>>>

/** A PLATFORM_INFO rule: each named bit must have the given value (true: set, false: clear). */
export type SnpPlatformInfoRule = Readonly<Partial<Record<SnpPlatformInfoRuleKey, boolean>>>

/** The keys of a rule on GUEST_POLICY or PLATFORM_INFO. */
export const SNP_GUEST_POLICY_RULE_KEYS: readonly SnpGuestPolicyRuleKey[] = Object.keys(
  SNP_GUEST_POLICY_RULE_BITS,
) as SnpGuestPolicyRuleKey[]
export const SNP_PLATFORM_INFO_RULE_KEYS: readonly SnpPlatformInfoRuleKey[] = Object.keys(
  SNP_PLATFORM_INFO_RULE_BITS,
) as SnpPlatformInfoRuleKey[]

/**
 * Check a bit rule as a policy option: an object whose every key is a bit of `table`, each value
 * true or false, at least one key (an empty rule would read as a rule and bind nothing).
 */
export function checkPolicyBitRule(
  check: PolicyChecker,
  field: string,
  rule: unknown,
  table: Readonly<Record<string, SnpPolicyBit>>,
): void {
  if (rule === undefined || !check.object(field, rule, [], Object.keys(table))) return
  if (Object.keys(rule).length === 0)
    check.fault(
      `${field} names no bit; give at least one of ${Object.keys(table).join(', ')} (true: must be set, false: must be clear), or leave ${field} out`,
    )
  for (const key of Object.keys(table)) check.boolean(`${field}.${key}`, rule[key])
}

/**
 * The bits of `actual` that differ from `rule`, one phrase each (`SMT (bit 16) is set, required
 * clear`), in bit order; empty when every named bit has its value.
 */
export function policyBitMismatches<K extends string>(
  actual: Readonly<Record<NoInfer<K>, boolean>>,
  rule: Readonly<Partial<Record<NoInfer<K>, boolean>>>,
  table: Readonly<Record<K, SnpPolicyBit>>,
): string[] {
  const keys = (Object.keys(table) as K[]).sort((a, b) => table[a].bit - table[b].bit)
  const state = (set: boolean): string => (set ? 'set' : 'clear')
  return keys
    .filter((key) => rule[key] !== undefined && rule[key] !== actual[key])
    .map(
      (key) =>
        `${table[key].name} (bit ${table[key].bit}) is ${state(actual[key])}, required ${state(rule[key] === true)}`,
    )
}

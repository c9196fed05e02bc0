/**
 * Appraisal of a verified quote: TCB status acceptance, the init-data binding (TDX MRCONFIGID,
 * SGX CONFIGID), measurements and debug. Secure defaults: only `UpToDate` is accepted and debug
 * TDs and enclaves are refused unless explicitly allowed. Every failing rule is reported together.
 *
 * @module
 */
import {
  AppraisalFailures,
  PolicyChecker,
  bytesToHex,
  constantTimeEqual,
  throwIfAppraisalFailed,
  type AppraisalFailure,
} from '@initguard/core'
import {
  DIGEST_LENGTHS,
  INITDATA_ALGORITHMS,
  initdataBindingFailure,
  isInitdataAlgorithm,
  type InitdataDocument,
} from '@initguard/initdata'
import type { DcapQuoteBody } from './quote.ts'
import type { TcbEvaluation, TcbStatus } from './tcb-status.ts'

/** What the relying party expects of a quote. */
export interface QuoteAppraisalPolicy {
  /** The initdata document the TD/enclave was launched with: MRCONFIGID (48 B) or CONFIGID (64 B). */
  readonly initdata?: InitdataDocument
  /** TDX MRCONFIGID, exactly (48 bytes). */
  readonly mrConfigId?: Uint8Array
  /** SGX CONFIGID, exactly (64 bytes). */
  readonly configId?: Uint8Array
  /** REPORTDATA, exactly (64 bytes). */
  readonly reportData?: Uint8Array
  /** TDX: MRTD must be one of these. */
  readonly mrTd?: readonly Uint8Array[]
  /** TDX: RTMR0–3, each exactly when given. */
  readonly rtmrs?: readonly (Uint8Array | undefined)[]
  /** TDX: MRSEAM must be one of these. */
  readonly mrSeam?: readonly Uint8Array[]
  /**
   * TDX: MRSERVICETD (SERVTD_HASH, TDX 1.5) must be exactly this (48 bytes). When absent it must
   * be all zero: no service TD bound. A bound service TD (a migration TD, for one) can read and
   * change the TD's state, so it is refused unless named, as Phala's dcap-qvl refuses any
   * non-zero MRSERVICETD. A TDX 1.0 quote has no such field (the 1.0 module binds no service TD)
   * and counts as all zero.
   */
  readonly mrServiceTd?: Uint8Array
  /** SGX: MRENCLAVE must be one of these. */
  readonly mrEnclave?: readonly Uint8Array[]
  /** SGX: MRSIGNER must be one of these. */
  readonly mrSigner?: readonly Uint8Array[]
  /** SGX: ISVSVN must be at least this. */
  readonly minimumIsvSvn?: number
  /**
   * Accept a debuggable TD or enclave. Default false. For a TD this covers every bit of the TUD
   * group (TDATTRIBUTES bits 7:0: DEBUG and the profiling bits), not DEBUG alone.
   */
  readonly allowDebug?: boolean
  /** Also accept `SWHardeningNeeded` (and with configuration, `ConfigurationAndSWHardeningNeeded`). */
  readonly allowSwHardeningNeeded?: boolean
  /** Also accept `ConfigurationNeeded` (and with SW hardening, `ConfigurationAndSWHardeningNeeded`). */
  readonly allowConfigurationNeeded?: boolean
}

type Failure = AppraisalFailure & { readonly code: `ERR_TDX_${string}` }

/** The TCB statuses a policy accepts. */
export function acceptedStatuses(policy: QuoteAppraisalPolicy): TcbStatus[] {
  const sw = policy.allowSwHardeningNeeded === true
  const config = policy.allowConfigurationNeeded === true
  return [
    'UpToDate',
    ...(sw ? (['SWHardeningNeeded'] as const) : []),
    ...(config ? (['ConfigurationNeeded'] as const) : []),
    ...(sw && config ? (['ConfigurationAndSWHardeningNeeded'] as const) : []),
  ]
}

const DEBUG_HINT = 'to accept a debuggable TD or enclave (never in production), add --allow-debug'

/** How to get past a TCB status the policy does not accept: the option, or what to fix. */
function tcbStatusHint(status: TcbStatus): string {
  switch (status) {
    case 'SWHardeningNeeded':
      return 'the platform is patched but the software must mitigate the advisories; to accept it, add --allow-sw-hardening'
    case 'ConfigurationNeeded':
      return 'the platform needs a BIOS/configuration change; to accept it as is, add --allow-configuration-needed'
    case 'ConfigurationAndSWHardeningNeeded':
      return 'to accept it, add both --allow-sw-hardening and --allow-configuration-needed'
    case 'TcbNotSupported':
      return "Intel's TCB info has no level this platform's TCB reaches: the platform is too old for this collateral, or the collateral is out of date"
    case 'UpToDate':
    case 'OutOfDate':
    case 'OutOfDateConfigurationNeeded':
    case 'Revoked':
      return 'the platform needs a TCB recovery (firmware and microcode update); no option accepts this status'
  }
}

/** An exact-value rule, its hint naming the CLI option that sets the value. */
function exact(
  failures: AppraisalFailures<Failure['code']>,
  code: `ERR_TDX_${string}`,
  name: string,
  actual: Uint8Array,
  expected: Uint8Array | undefined,
  option: string,
): void {
  failures.exact(code, name, actual, expected, `check the value given to ${option}`)
}

/** An allow-list rule, its hint naming the CLI option that adds to the list. */
function member(
  failures: AppraisalFailures<Failure['code']>,
  code: `ERR_TDX_${string}`,
  name: string,
  actual: Uint8Array,
  allowed: readonly Uint8Array[] | undefined,
  option: string,
): void {
  failures.oneOf(
    code,
    name,
    actual,
    allowed,
    `if this ${name} is trusted, add it with another ${option}`,
  )
}

/** The init-data binding: the field must hold the document's digest fitted to its length. */
function initdataBinding(
  failures: AppraisalFailures<Failure['code']>,
  tee: 'tdx' | 'sgx',
  name: string,
  actual: Uint8Array,
  document: InitdataDocument | undefined,
): void {
  if (document === undefined) return
  failures.add(initdataBindingFailure('ERR_TDX_INITDATA_MISMATCH', tee, name, actual, document))
}

/** MRSERVICETD when no service TD is bound. */
const NO_SERVICE_TD = new Uint8Array(48)

/**
 * MRSERVICETD must be `expected`, all zero when the policy names none. A TDX 1.0 body has no
 * MRSERVICETD and no service TD bound: it meets the all-zero value and nothing else.
 */
function serviceTdBinding(
  failures: AppraisalFailures<Failure['code']>,
  body: Exclude<DcapQuoteBody, { kind: 'sgx' }>,
  expected: Uint8Array | undefined,
): void {
  const want = expected ?? NO_SERVICE_TD
  if (body.kind === 'td10') {
    if (constantTimeEqual(want, NO_SERVICE_TD)) return
    failures.add({
      code: 'ERR_TDX_MRSERVICETD_MISMATCH',
      message: `the quote has a TDX 1.0 body, which binds no service TD (no MRSERVICETD), expected MRSERVICETD ${bytesToHex(want)}`,
      hint: 'a TD with that service TD bound reports a TDX 1.5 (v5) quote; check the value given to --expect-mrservicetd, and that the host runs the TDX 1.5 module',
    })
    return
  }
  failures.exact(
    'ERR_TDX_MRSERVICETD_MISMATCH',
    'MRSERVICETD',
    body.mrServiceTd,
    want,
    expected === undefined
      ? 'a service TD (a migration TD, for one) is bound to this TD and can read and change it; if that service TD is trusted, give its hash with --expect-mrservicetd'
      : 'check the value given to --expect-mrservicetd (all zero when no service TD may be bound)',
  )
}

/**
 * Every option of {@link QuoteAppraisalPolicy}, as the keys of a table the compiler holds complete:
 * any other key (`mrtd`, `mrConfigID`, `rtmr`) is a misspelt rule that would bound nothing, refused.
 */
const POLICY_OPTIONS = Object.keys({
  initdata: true,
  mrConfigId: true,
  configId: true,
  reportData: true,
  mrTd: true,
  rtmrs: true,
  mrSeam: true,
  mrServiceTd: true,
  mrEnclave: true,
  mrSigner: true,
  minimumIsvSvn: true,
  allowDebug: true,
  allowSwHardeningNeeded: true,
  allowConfigurationNeeded: true,
} satisfies Record<keyof QuoteAppraisalPolicy, true>)

/** The policy fields each kind of quote has; a field set for the other kind is refused. */
const TDX_ONLY = ['mrConfigId', 'mrTd', 'rtmrs', 'mrSeam', 'mrServiceTd'] as const
const SGX_ONLY = ['configId', 'mrEnclave', 'mrSigner', 'minimumIsvSvn'] as const

/**
 * The fault of an `initdata` value that is not a parsed document, or `undefined`. The binding is
 * the digest fitted to the field: a digest shorter than its algorithm's (an empty one above all)
 * would be zero-padded into the all-zero value of a guest launched without init-data.
 */
function initdataFault(value: unknown): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null) {
    return 'initdata must be a parsed initdata document (parseInitdata), not the document text or null'
  }
  const { algorithm, digest } = value as Partial<Record<'algorithm' | 'digest', unknown>>
  if (!isInitdataAlgorithm(algorithm)) {
    return `initdata.algorithm must be one of ${INITDATA_ALGORITHMS.join(', ')}`
  }
  if (!(digest instanceof Uint8Array) || digest.length !== DIGEST_LENGTHS[algorithm]) {
    return `initdata.digest must be the ${DIGEST_LENGTHS[algorithm]}-byte ${algorithm} digest of the document`
  }
  return undefined
}

/**
 * Refuse a policy that cannot be applied as written: a policy that is not an object of options (a
 * string, an array or null would otherwise read as "no rules"), an option that does not exist (a
 * misspelt `mrtd` would otherwise be ignored and bound nothing), values that cannot be bounds (NaN,
 * fractions, negative or out-of-range numbers, null, byte strings of the wrong length, more than
 * four RTMRs, an initdata value that is not a parsed document) and, given the quote's kind, a
 * policy that sets a field that kind of quote does not have (it would otherwise be skipped).
 *
 * Every bound is a single value or a list of values, so no option is a minimum of several
 * components that could be given in part (as SEV-SNP's `minimumTcb` can): `minimumIsvSvn` is one
 * number, and Intel's TCB is judged by the TCB status the collateral gives.
 *
 * @throws {@link UsageError} `ERR_TDX_POLICY_INVALID` naming every fault.
 */
export function checkQuoteAppraisalPolicy(
  policy: QuoteAppraisalPolicy,
  kind?: DcapQuoteBody['kind'],
): void {
  const check = new PolicyChecker('ERR_TDX_POLICY_INVALID', 'DCAP quote appraisal policy')
  // `policy` as given: an API caller (or a config file read into it) may pass anything.
  const given: unknown = policy
  if (!check.options(given, POLICY_OPTIONS)) {
    check.done()
    return
  }
  check.byteFields(policy, { mrConfigId: 48, configId: 64, reportData: 64, mrServiceTd: 48 })
  check.byteListFields(policy, { mrTd: 48, mrSeam: 48, mrEnclave: 32, mrSigner: 32 })
  check.integerFields(policy, { minimumIsvSvn: [0, 0xffff] })
  check.booleanFields(policy, ['allowDebug', 'allowSwHardeningNeeded', 'allowConfigurationNeeded'])
  const initdata = initdataFault(policy.initdata)
  if (initdata !== undefined) check.fault(initdata)
  const rtmrs: unknown = policy.rtmrs
  if (rtmrs !== undefined) {
    if (!Array.isArray(rtmrs) || rtmrs.length > 4)
      check.fault('rtmrs must be a list of at most 4 entries (RTMR0–3)')
    else for (let i = 0; i < rtmrs.length; i++) check.bytes(`rtmrs[${i}]`, rtmrs[i] as unknown, 48)
  }
  if (kind !== undefined) {
    const isSgx = kind === 'sgx'
    for (const field of isSgx ? TDX_ONLY : SGX_ONLY) {
      if (policy[field] !== undefined) {
        check.fault(
          `${field} applies to ${isSgx ? 'TDX' : 'SGX'} quotes; this is ${isSgx ? 'an SGX' : 'a TDX'} quote`,
        )
      }
    }
  }
  check.done()
}

/**
 * The rules a quote fails; empty when it meets the policy.
 *
 * @throws {@link UsageError} `ERR_TDX_POLICY_INVALID` when the policy itself is invalid or sets a
 *   field the quote does not have.
 */
export function quoteAppraisalFailures(
  body: DcapQuoteBody,
  tcb: TcbEvaluation,
  policy: QuoteAppraisalPolicy,
): Failure[] {
  checkQuoteAppraisalPolicy(policy, body.kind)
  return failuresOfCheckedPolicy(body, tcb, policy)
}

/** The rules a quote fails, for a policy already checked for this kind of quote. */
function failuresOfCheckedPolicy(
  body: DcapQuoteBody,
  tcb: TcbEvaluation,
  policy: QuoteAppraisalPolicy,
): Failure[] {
  const failures = new AppraisalFailures<Failure['code']>()
  const accepted = acceptedStatuses(policy)
  if (!accepted.includes(tcb.status)) {
    failures.add({
      code:
        tcb.status === 'TcbNotSupported'
          ? 'ERR_TDX_TCB_NOT_SUPPORTED'
          : tcb.status === 'Revoked'
            ? 'ERR_TDX_TCB_REVOKED'
            : 'ERR_TDX_TCB_STATUS',
      message: `the TCB status is ${tcb.status}${tcb.advisoryIds.length > 0 ? ` (${tcb.advisoryIds.join(', ')})` : ''}; accepted: ${accepted.join(', ')}`,
      hint: tcbStatusHint(tcb.status),
    })
  }
  exact(
    failures,
    'ERR_TDX_REPORT_DATA_MISMATCH',
    'REPORTDATA',
    body.reportData,
    policy.reportData,
    '--expect-report-data',
  )
  if (body.kind === 'sgx') {
    if (policy.allowDebug !== true && body.attributes.debug) {
      failures.add({
        code: 'ERR_TDX_DEBUG',
        message: 'the enclave is a debug enclave (ATTRIBUTES.DEBUG): its memory can be read',
        hint: DEBUG_HINT,
      })
    }
    exact(
      failures,
      'ERR_TDX_CONFIGID_MISMATCH',
      'CONFIGID',
      body.configId,
      policy.configId,
      '--expect-configid',
    )
    initdataBinding(failures, 'sgx', 'CONFIGID', body.configId, policy.initdata)
    member(
      failures,
      'ERR_TDX_MRENCLAVE_MISMATCH',
      'MRENCLAVE',
      body.mrEnclave,
      policy.mrEnclave,
      '--expect-mrenclave',
    )
    member(
      failures,
      'ERR_TDX_MRSIGNER_MISMATCH',
      'MRSIGNER',
      body.mrSigner,
      policy.mrSigner,
      '--expect-mrsigner',
    )
    failures.atLeast(
      'ERR_TDX_ISVSVN_TOO_LOW',
      'ISVSVN',
      body.isvSvn,
      policy.minimumIsvSvn,
      'the enclave is older than --min-isv-svn allows: run an updated enclave',
    )
    return failures.list
  }
  // Every bit of the TUD group (7:0), not DEBUG alone: profiling bits make the TD untrusted too.
  if (policy.allowDebug !== true && body.tdAttributes.underDebug) {
    failures.add({
      code: 'ERR_TDX_DEBUG',
      message: body.tdAttributes.debug
        ? 'the TD is debuggable (TDATTRIBUTES.DEBUG): the host can read its memory'
        : `the TD is under debug or profiling (TDATTRIBUTES TUD bits 7:0 are 0x${(body.tdAttributes.raw & 0xffn).toString(16).padStart(2, '0')}, e.g. PERF_PROF): the TDX module calls such a TD untrusted`,
      hint: DEBUG_HINT,
    })
  }
  exact(
    failures,
    'ERR_TDX_MRCONFIGID_MISMATCH',
    'MRCONFIGID',
    body.mrConfigId,
    policy.mrConfigId,
    '--expect-mrconfigid',
  )
  initdataBinding(failures, 'tdx', 'MRCONFIGID', body.mrConfigId, policy.initdata)
  member(failures, 'ERR_TDX_MRTD_MISMATCH', 'MRTD', body.mrTd, policy.mrTd, '--expect-mrtd')
  member(
    failures,
    'ERR_TDX_MRSEAM_MISMATCH',
    'MRSEAM',
    body.mrSeam,
    policy.mrSeam,
    '--expect-mrseam',
  )
  serviceTdBinding(failures, body, policy.mrServiceTd)
  policy.rtmrs?.forEach((expected, i) => {
    const actual = body.rtmrs[i]
    if (actual !== undefined)
      exact(
        failures,
        'ERR_TDX_RTMR_MISMATCH',
        `RTMR${i}`,
        actual,
        expected,
        `--expect-rtmr ${i}=HEX`,
      )
  })
  return failures.list
}

/**
 * Appraise a verified quote.
 *
 * @throws {@link UsageError} `ERR_TDX_POLICY_INVALID` (see {@link checkQuoteAppraisalPolicy});
 *   {@link ExpectationError} with the first failing rule's code; `details.failed` lists all.
 */
export function appraiseQuote(
  body: DcapQuoteBody,
  tcb: TcbEvaluation,
  policy: QuoteAppraisalPolicy,
): void {
  checkQuoteAppraisalPolicy(policy, body.kind)
  appraiseQuoteWithCheckedPolicy(body, tcb, policy)
}

/**
 * Appraise a verified quote against a policy that has passed {@link checkQuoteAppraisalPolicy}
 * for this kind of quote: as {@link appraiseQuote}, without checking the policy a second time
 * (for a verifier that checked it before any work; the check again would cost a warm
 * verification microseconds for nothing).
 *
 * @internal
 */
export function appraiseQuoteWithCheckedPolicy(
  body: DcapQuoteBody,
  tcb: TcbEvaluation,
  policy: QuoteAppraisalPolicy,
): void {
  throwIfAppraisalFailed(failuresOfCheckedPolicy(body, tcb, policy), 'quote', {
    tcbStatus: tcb.status,
    advisories: [...tcb.advisoryIds],
  })
}

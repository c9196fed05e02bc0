/**
 * TPM 2.0 response codes (TPM 2.0 Library, Part 2, §6.6 `TPM_RC`), decoded into a name and mapped
 * to a typed error, so a refusal says what the TPM refused and what to do about it instead of a
 * bare number. Pure: no I/O.
 *
 * ```text
 * bits      format zero (bit 7 = 0)              format one (bit 7 = 1)
 * 0..6      error number E (0..5 in format one)  E: the error (TPM_RC_FMT1 + E)
 * 6         -                                    P: 1 = the error is in parameter N
 * 7         0                                    1
 * 8         V: 1 = a TPM 2.0 code (else 1.2)     \
 * 10        T: 1 = vendor defined                 N: the handle (1..7), session (8..15, bit 11
 * 11        S: 1 = a warning (TPM_RC_WARN)       /    set) or parameter (1..15, P set) at fault
 * 16..23    the software layer that made the code (0: the TPM itself; 11: a resource manager)
 * ```
 *
 * Only what a client of `TPM2_PCR_Read` and `TPM2_PCR_Extend` needs is mapped to its own error
 * code; every other code is {@link TPM_ERROR_CODES}`.refused` with its name and hex value.
 *
 * @module
 */
import { UnavailableError, type ErrorCode, type InitguardErrorOptions } from '@initguard/core'

/** `TPM_RC_SUCCESS`. */
export const TPM_RC_SUCCESS = 0

/** The error codes a TPM's response code is mapped to (see {@link tpmCommandError}). */
export const TPM_ERROR_CODES: {
  readonly notStarted: 'ERR_TPM_NOT_STARTED'
  readonly failureMode: 'ERR_TPM_FAILURE_MODE'
  readonly locality: 'ERR_TPM_LOCALITY'
  readonly auth: 'ERR_TPM_AUTH'
  readonly busy: 'ERR_TPM_BUSY'
  readonly refused: 'ERR_TPM_COMMAND_REFUSED'
} = {
  /** `TPM_RC_INITIALIZE`: `TPM2_Startup` was never sent (the firmware or the kernel sends it). */
  notStarted: 'ERR_TPM_NOT_STARTED',
  /** `TPM_RC_FAILURE`: the TPM is in failure mode; only a reset recovers it. */
  failureMode: 'ERR_TPM_FAILURE_MODE',
  /** `TPM_RC_LOCALITY`: the PCR cannot be extended from the locality this client has. */
  locality: 'ERR_TPM_LOCALITY',
  /** An authorization failure: the PCR has an authValue or policy this client does not satisfy. */
  auth: 'ERR_TPM_AUTH',
  /** A warning (`TPM_RC_RETRY`, `TPM_RC_YIELDED`, `TPM_RC_TESTING`, memory, …): try again later. */
  busy: 'ERR_TPM_BUSY',
  /** Any other response code. */
  refused: 'ERR_TPM_COMMAND_REFUSED',
}

/** Format-zero TPM 2.0 errors (`TPM_RC_VER1` + E). */
const VER1_NAMES: Readonly<Record<number, string>> = {
  0x00: 'TPM_RC_INITIALIZE',
  0x01: 'TPM_RC_FAILURE',
  0x03: 'TPM_RC_SEQUENCE',
  0x0b: 'TPM_RC_PRIVATE',
  0x19: 'TPM_RC_HMAC',
  0x20: 'TPM_RC_DISABLED',
  0x21: 'TPM_RC_EXCLUSIVE',
  0x24: 'TPM_RC_AUTH_TYPE',
  0x25: 'TPM_RC_AUTH_MISSING',
  0x26: 'TPM_RC_POLICY',
  0x27: 'TPM_RC_PCR',
  0x28: 'TPM_RC_PCR_CHANGED',
  0x2d: 'TPM_RC_UPGRADE',
  0x2e: 'TPM_RC_TOO_MANY_CONTEXTS',
  0x2f: 'TPM_RC_AUTH_UNAVAILABLE',
  0x30: 'TPM_RC_REBOOT',
  0x31: 'TPM_RC_UNBALANCED',
  0x42: 'TPM_RC_COMMAND_SIZE',
  0x43: 'TPM_RC_COMMAND_CODE',
  0x44: 'TPM_RC_AUTHSIZE',
  0x45: 'TPM_RC_AUTH_CONTEXT',
  0x46: 'TPM_RC_NV_RANGE',
  0x47: 'TPM_RC_NV_SIZE',
  0x48: 'TPM_RC_NV_LOCKED',
  0x49: 'TPM_RC_NV_AUTHORIZATION',
  0x4a: 'TPM_RC_NV_UNINITIALIZED',
  0x4b: 'TPM_RC_NV_SPACE',
  0x4c: 'TPM_RC_NV_DEFINED',
  0x50: 'TPM_RC_BAD_CONTEXT',
  0x51: 'TPM_RC_CPHASH',
  0x52: 'TPM_RC_PARENT',
  0x53: 'TPM_RC_NEEDS_TEST',
  0x54: 'TPM_RC_NO_RESULT',
  0x55: 'TPM_RC_SENSITIVE',
}

/** Format-one errors (`TPM_RC_FMT1` + E). */
const FMT1_NAMES: Readonly<Record<number, string>> = {
  0x01: 'TPM_RC_ASYMMETRIC',
  0x02: 'TPM_RC_ATTRIBUTES',
  0x03: 'TPM_RC_HASH',
  0x04: 'TPM_RC_VALUE',
  0x05: 'TPM_RC_HIERARCHY',
  0x07: 'TPM_RC_KEY_SIZE',
  0x08: 'TPM_RC_MGF',
  0x09: 'TPM_RC_MODE',
  0x0a: 'TPM_RC_TYPE',
  0x0b: 'TPM_RC_HANDLE',
  0x0c: 'TPM_RC_KDF',
  0x0d: 'TPM_RC_RANGE',
  0x0e: 'TPM_RC_AUTH_FAIL',
  0x0f: 'TPM_RC_NONCE',
  0x10: 'TPM_RC_PP',
  0x12: 'TPM_RC_SCHEME',
  0x15: 'TPM_RC_SIZE',
  0x16: 'TPM_RC_SYMMETRIC',
  0x17: 'TPM_RC_TAG',
  0x18: 'TPM_RC_SELECTOR',
  0x1a: 'TPM_RC_INSUFFICIENT',
  0x1b: 'TPM_RC_SIGNATURE',
  0x1c: 'TPM_RC_KEY',
  0x1d: 'TPM_RC_POLICY_FAIL',
  0x1f: 'TPM_RC_INTEGRITY',
  0x20: 'TPM_RC_TICKET',
  0x21: 'TPM_RC_RESERVED_BITS',
  0x22: 'TPM_RC_BAD_AUTH',
  0x23: 'TPM_RC_EXPIRED',
  0x24: 'TPM_RC_POLICY_CC',
  0x25: 'TPM_RC_BINDING',
  0x26: 'TPM_RC_CURVE',
  0x27: 'TPM_RC_ECC_POINT',
}

/** `TPM_RC_REFERENCE_H0`..`H6` (0x10..0x16) and `TPM_RC_REFERENCE_S0`..`S6` (0x18..0x1e). */
function referenceNames(): Record<number, string> {
  const names: Record<number, string> = {}
  for (let i = 0; i < 7; i++) {
    names[0x10 + i] = `TPM_RC_REFERENCE_H${i}`
    names[0x18 + i] = `TPM_RC_REFERENCE_S${i}`
  }
  return names
}

/** Warnings (`TPM_RC_WARN` + E). */
const WARN_NAMES: Readonly<Record<number, string>> = {
  0x01: 'TPM_RC_CONTEXT_GAP',
  0x02: 'TPM_RC_OBJECT_MEMORY',
  0x03: 'TPM_RC_SESSION_MEMORY',
  0x04: 'TPM_RC_MEMORY',
  0x05: 'TPM_RC_SESSION_HANDLES',
  0x06: 'TPM_RC_OBJECT_HANDLES',
  0x07: 'TPM_RC_LOCALITY',
  0x08: 'TPM_RC_YIELDED',
  0x09: 'TPM_RC_CANCELED',
  0x0a: 'TPM_RC_TESTING',
  ...referenceNames(),
  0x20: 'TPM_RC_NV_RATE',
  0x21: 'TPM_RC_LOCKOUT',
  0x22: 'TPM_RC_RETRY',
  0x23: 'TPM_RC_NV_UNAVAILABLE',
}

/** Format-one errors that mean the authorization given did not satisfy the object. */
const AUTH_ERRORS = new Set([0x0e, 0x1d, 0x22])
/** Format-zero errors that mean the same. */
const VER1_AUTH_ERRORS = new Set([0x24, 0x25, 0x26, 0x2f])

/** A decoded response code. */
export interface TpmResponseCode {
  /** The response code as received. */
  readonly value: number
  /** `0x00000922`: the code as 8 hex digits. */
  readonly hex: string
  /** `TPM_RC_RETRY`, `TPM_RC_VALUE (parameter 1)`, `vendor code 0x3`, …. */
  readonly name: string
  /** Which kind of code it is; `layer` means a layer above the TPM (a resource manager) made it. */
  readonly kind: 'success' | 'error' | 'format-one' | 'warning' | 'vendor' | 'tpm1.2' | 'layer'
  /** E: the error number within its kind. */
  readonly number: number
}

/** Decode a response code (any 32-bit value: unknown numbers are named by their value). */
export function decodeResponseCode(value: number): TpmResponseCode {
  const hex = `0x${(value >>> 0).toString(16).padStart(8, '0')}`
  const layer = (value >>> 16) & 0xff
  if (layer !== 0) {
    const inner = decodeResponseCode(value & 0xffff)
    const who = layer === 11 ? 'the resource manager' : `software layer ${layer}`
    return { value, hex, name: `${inner.name} from ${who}`, kind: 'layer', number: inner.number }
  }
  if (value === TPM_RC_SUCCESS)
    return { value, hex, name: 'TPM_RC_SUCCESS', kind: 'success', number: 0 }
  if ((value & 0x80) !== 0) {
    const number = value & 0x3f
    const n = (value >>> 8) & 0xf
    const where =
      (value & 0x40) !== 0
        ? `parameter ${n}`
        : (value & 0x800) !== 0
          ? `session ${n & 0x7}`
          : n === 0
            ? undefined
            : `handle ${n}`
    const base = FMT1_NAMES[number] ?? `format-one error 0x${number.toString(16)}`
    return {
      value,
      hex,
      name: where === undefined ? base : `${base} (${where})`,
      kind: 'format-one',
      number,
    }
  }
  const number = value & 0x7f
  if ((value & 0x100) === 0) {
    const name = number === 0x1e ? 'TPM_RC_BAD_TAG' : `TPM 1.2 code 0x${number.toString(16)}`
    return { value, hex, name, kind: 'tpm1.2', number }
  }
  if ((value & 0x400) !== 0) {
    return { value, hex, name: `vendor code 0x${number.toString(16)}`, kind: 'vendor', number }
  }
  if ((value & 0x800) !== 0) {
    const name = WARN_NAMES[number] ?? `warning 0x${number.toString(16)}`
    return { value, hex, name, kind: 'warning', number }
  }
  const name = VER1_NAMES[number] ?? `error 0x${number.toString(16)}`
  return { value, hex, name, kind: 'error', number }
}

/**
 * The error a TPM's refusal of a command is thrown as: an {@link UnavailableError} (the TPM could
 * not do what was asked) whose `code` says which kind of refusal, and which keeps the response
 * code itself.
 */
export class TpmCommandError extends UnavailableError {
  /** The response code the TPM answered with. */
  readonly responseCode: number
  /** The command it refused (`TPM2_PCR_Extend`). */
  readonly command: string

  constructor(
    code: ErrorCode,
    message: string,
    options: InitguardErrorOptions & { readonly responseCode: number; readonly command: string },
  ) {
    super(code, message, options)
    this.responseCode = options.responseCode
    this.command = options.command
  }
}

/**
 * The typed error for response code `value` (non-zero) to `command` (e.g. `TPM2_PCR_Extend`).
 * `where` names the TPM for the message (`/dev/tpmrm0`).
 */
export function tpmCommandError(value: number, command: string, where: string): TpmCommandError {
  const rc = decodeResponseCode(value)
  const { code, hint } = classify(rc, command)
  return new TpmCommandError(
    code,
    `the TPM at ${where} refused ${command}: ${rc.name} (${rc.hex})`,
    {
      details: { command, responseCode: rc.hex, name: rc.name, kind: rc.kind, tpm: where },
      hint,
      responseCode: value,
      command,
    },
  )
}

function classify(rc: TpmResponseCode, command: string): { code: ErrorCode; hint: string } {
  if (rc.kind === 'error' && rc.number === 0x00) {
    return {
      code: TPM_ERROR_CODES.notStarted,
      hint: 'the TPM was never started (TPM2_Startup): the firmware or the kernel does that at boot; check that the TPM driver bound to it (dmesg | grep -i tpm)',
    }
  }
  if (rc.kind === 'error' && rc.number === 0x01) {
    return {
      code: TPM_ERROR_CODES.failureMode,
      hint: 'the TPM is in failure mode: only a reset (a reboot of the VM) recovers it',
    }
  }
  if (rc.kind === 'warning' && rc.number === 0x07) {
    return {
      code: TPM_ERROR_CODES.locality,
      hint: `${command} on this PCR needs a locality this client does not have; PCR 8 is extendable from every locality on a PC Client TPM, so check the PCR index`,
    }
  }
  if (
    (rc.kind === 'format-one' && AUTH_ERRORS.has(rc.number)) ||
    (rc.kind === 'error' && VER1_AUTH_ERRORS.has(rc.number)) ||
    (rc.kind === 'warning' && rc.number === 0x21)
  ) {
    return {
      code: TPM_ERROR_CODES.auth,
      hint: 'the PCR has an authorization value or policy set (TPM2_PCR_SetAuthValue / SetAuthPolicy) that an empty password does not satisfy: nothing else should have set one on PCR 8',
    }
  }
  if (rc.kind === 'warning') {
    return {
      code: TPM_ERROR_CODES.busy,
      hint: 'the TPM is busy or short of resources for now: try again',
    }
  }
  return {
    code: TPM_ERROR_CODES.refused,
    hint:
      rc.kind === 'format-one' && (rc.number === 0x03 || rc.number === 0x04)
        ? 'the TPM does not take this PCR bank or index: the SHA-256 bank must be allocated (tpm2_pcrallocate) and the PCR a PC Client one (0..23)'
        : `see the TPM 2.0 Library, Part 2, TPM_RC, for ${rc.name}`,
  }
}

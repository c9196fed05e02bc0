/**
 * The init-data the guest sent, checked against the hardware field and exposed as claims, as
 * Trustee's attestation service does it (relying-party.md §1.5): the digest is the document's own
 * `algorithm` over its exact bytes, fitted to HOST_DATA (32) / MRCONFIGID (48) / CONFIGID (64);
 * `init_data_claims` is the `[data]` map with `aa.toml` and `cdh.toml` parsed into objects.
 *
 * @module
 */
import { bytesToHex, constantTimeEqual, isInitguardError, stringToUtf8 } from '@initguard/core'
import { bindingFor, parseConfigToml, parseInitdata } from '@initguard/initdata'
import type { KbsInitData } from '@initguard/kbs-protocol'
import type { VerifiedEvidence } from './verified-evidence.ts'

/** Why the init-data was refused: the status, a stable code and what to do. */
export interface InitDataRefusal {
  readonly status: 401 | 403
  readonly code: string
  readonly detail: string
}

/** The checked init-data: its claims, or a refusal. */
export type InitDataOutcome =
  | {
      readonly ok: true
      readonly claims: Record<string, unknown> | null
      /** The hex digest of the init-data sent (its own algorithm), if any was sent. */
      readonly digest?: string
    }
  | { readonly ok: false; readonly refusal: InitDataRefusal }

/** The `[data]` values Trustee re-parses from TOML into objects. */
const TOML_VALUES: ReadonlySet<string> = new Set(['aa.toml', 'cdh.toml'])

/** A TOML value as plain JSON: tables as plain objects, dates as their ISO text. */
function tomlToJson(value: unknown): unknown {
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'bigint') return value.toString()
  if (Array.isArray(value)) return value.map(tomlToJson)
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, tomlToJson(v)]))
  }
  return value
}

/**
 * Check `initData` against the verified evidence's init-time field and build its claims.
 * Without init-data the claims are `null` (the field is still in the token as `init_data`).
 */
export function checkInitData(
  initData: KbsInitData | undefined,
  verified: VerifiedEvidence,
): InitDataOutcome {
  if (initData === undefined) return { ok: true, claims: null }
  let document
  try {
    document = parseInitdata(stringToUtf8(initData.body))
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return {
      ok: false,
      refusal: {
        status: 401,
        code: error.code,
        detail: `the init-data is not a valid document: ${error.message}`,
      },
    }
  }
  const fitted = bindingFor(verified.tee, document.algorithm, document.digest).value
  if (!constantTimeEqual(fitted, verified.initDataField)) {
    const actual = bytesToHex(verified.initDataField)
    return {
      ok: false,
      refusal: {
        status: 401,
        code: 'ERR_KBS_INITDATA_MISMATCH',
        detail:
          `the init-data sent (${document.algorithm}) binds ${verified.initDataFieldName} to ${bytesToHex(fitted)}, ` +
          `but the evidence's ${verified.initDataFieldName} is ${actual}: the guest was launched with another document. ` +
          `\`initguard initdata explain DOCUMENT --tee ${verified.tee} --expected ${actual}\` tells the usual causes (line ends, final newline, algorithm)`,
      },
    }
  }
  const claims: Record<string, unknown> = {}
  for (const [key, value] of document.data) {
    if (!TOML_VALUES.has(key)) {
      claims[key] = value
      continue
    }
    // The checks every TOML parse site shares: what the guest's parser refuses or reads as another
    // value (a float beyond 64 bits, a date that does not exist) is no claim either.
    try {
      claims[key] = tomlToJson(
        parseConfigToml(value, {
          code: 'ERR_KBS_INITDATA_CLAIMS',
          what: `the init-data's "${key}"`,
          hint: `fix ${key} in the init-data document`,
        }),
      )
    } catch (error) {
      if (!isInitguardError(error)) throw error
      return {
        ok: false,
        refusal: {
          status: 403,
          code: 'ERR_KBS_INITDATA_CLAIMS',
          detail: `${error.message}, so its claims cannot be read (${error.hint ?? ''})`,
        },
      }
    }
  }
  return { ok: true, claims, digest: bytesToHex(document.digest) }
}

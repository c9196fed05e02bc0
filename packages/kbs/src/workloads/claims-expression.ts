/**
 * A workload's optional CEL expression over the attestation claims (`@marcbachmann/cel-js`).
 *
 * The expression sees exactly the claims the token carries (`ear.veraison.annotated-evidence`):
 *
 * | variable              | type   | what                                                           |
 * | --------------------- | ------ | -------------------------------------------------------------- |
 * | `tee`                 | string | `snp`, `tdx` or `sgx`                                          |
 * | `snp` / `tdx` / `sgx` | map    | the verifier's claims (Trustee's names); only the evidence's TEE is set |
 * | `init_data`           | string | hex of HOST_DATA / MRCONFIGID / CONFIGID                       |
 * | `init_data_claims`    | dyn    | the `[data]` map (`aa.toml`, `cdh.toml` as objects) or `null`  |
 * | `report_data`         | string | hex of REPORT_DATA                                             |
 * | `runtime_data_claims` | map    | `nonce`, `tee-pubkey`, `additional-evidence`                   |
 *
 * It is compiled (parsed and type-checked) when the definition is validated, so a syntax or type
 * error is refused at `put`. At attestation only `true` counts: `false`, another value, or an
 * evaluation error (a missing key, say) does not match, and the reason says which.
 *
 * @module
 */
import { Environment, type ParseResult } from '@marcbachmann/cel-js'
import { invalid, stringAt } from './definition-reader.ts'

/** Longest accepted expression, in characters. */
export const MAX_CEL_LENGTH = 8192

const environment = new Environment({
  limits: { maxAstNodes: 2000, maxDepth: 64, maxListElements: 256, maxMapEntries: 256 },
})
  .registerVariable('tee', 'string')
  .registerVariable('snp', 'map')
  .registerVariable('tdx', 'map')
  .registerVariable('sgx', 'map')
  .registerVariable('init_data', 'string')
  .registerVariable('init_data_claims', 'dyn')
  .registerVariable('report_data', 'string')
  .registerVariable('runtime_data_claims', 'map')

const CEL_HINT =
  'write a CEL expression that yields a bool over tee, snp, tdx, sgx, init_data, init_data_claims, report_data, runtime_data_claims'

function firstLine(message: string): string {
  return message.split('\n')[0] ?? message
}

/**
 * Parse and type-check `value` (the definition's `cel`).
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path` for a non-string, an over-long text, a syntax error
 *   or an expression that cannot yield a bool.
 */
export function compileClaimsExpression(value: unknown, path: string): ParseResult {
  const text = stringAt(value, path, CEL_HINT)
  if (text.trim() === '') throw invalid(path, 'is empty', `${CEL_HINT}, or leave "cel" out`)
  if (text.length > MAX_CEL_LENGTH) {
    throw invalid(path, `is ${text.length} characters long (at most ${MAX_CEL_LENGTH})`, CEL_HINT)
  }
  let parsed: ParseResult
  try {
    parsed = environment.parse(text)
  } catch (error) {
    throw invalid(
      path,
      `is not valid CEL: ${firstLine(error instanceof Error ? error.message : String(error))}`,
      CEL_HINT,
    )
  }
  const checked = parsed.check()
  if (!checked.valid) {
    throw invalid(
      path,
      `does not type-check: ${firstLine(checked.error?.message ?? 'unknown type error')}`,
      CEL_HINT,
    )
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw invalid(path, `yields ${checked.type ?? 'an unknown type'}, not a bool`, CEL_HINT)
  }
  return parsed
}

/** Why an expression did not hold, or `undefined` when it yielded `true`. */
export function claimsExpressionFailure(
  expression: ParseResult,
  claims: Readonly<Record<string, unknown>>,
): string | undefined {
  let result: unknown
  try {
    result = expression(claims)
  } catch (error) {
    return `its CEL expression could not be evaluated over these claims: ${firstLine(error instanceof Error ? error.message : String(error))}`
  }
  if (result === true) return undefined
  if (result === false) return 'its CEL expression is false for these claims'
  return `its CEL expression yielded ${typeof result}, not a bool`
}

/**
 * A workload's optional CEL expression over the attestation claims (`@marcbachmann/cel-js`).
 *
 * The expression sees exactly the claims the token carries (`ear.veraison.annotated-evidence`):
 *
 * | variable              | type   | what                                                           |
 * | --------------------- | ------ | -------------------------------------------------------------- |
 * | `tee`                 | string | `snp`, `tdx` or `sgx`                                          |
 * | `snp` / `tdx` / `sgx` | object | the verifier's claims (Trustee's names, declared fields); only the evidence's TEE is set |
 * | `init_data`           | string | hex of HOST_DATA / MRCONFIGID / CONFIGID                       |
 * | `init_data_claims`    | dyn    | the `[data]` map (`aa.toml`, `cdh.toml` as objects) or `null`  |
 * | `report_data`         | string | hex of REPORT_DATA                                             |
 * | `runtime_data_claims` | map    | `nonce`, `tee-pubkey`, `additional-evidence`                   |
 *
 * The TEE claims' fields and their types are declared ({@link TEE_CLAIM_FIELDS}): integers are CEL
 * `int`, hex is `string`. The expression is compiled (parsed and type-checked) when the definition
 * is validated, so a syntax or type error is refused at `put`, and so is a claim the verifier never
 * emits (`snp.measurment`, with the fields it does) or one compared with the wrong type
 * (`snp.vmpl == "0"`); so is a rule for a TEE the workload does not run on (see
 * {@link checkClaimsExpressionTees}). So are the forms that would take a claims object out of the
 * check's sight ({@link checkTypedClaims}): `dyn(snp)`, `snp[k]` with a computed key, `c ? snp :
 * init_data_claims`, `type(snp)`, and a misspelled `has(x.f)` where `x` is bound to a claims
 * object. `init_data_claims` and `runtime_data_claims` are the guest's own maps and stay dynamic.
 * The `optional` namespace is refused: optional types are off, so it has no value at appraisal.
 * So is what is the same for every guest ({@link checkNoShadowedVariables},
 * {@link checkNoConstantClauses}, {@link checkHexLiterals}, {@link checkNullableLiterals}, and in
 * {@link checkTypedClaims} a claims object compared as a whole, `dyn()` or `type()` of a typed
 * value and `has()` of a claim all evidence has): a local named like the claims, a clause that
 * reads no claim, a hex claim compared with what it can never be.
 * At attestation only `true` counts: `false`, another value, or an evaluation error (a missing
 * key, say) does not match, and the reason says which.
 *
 * @module
 */
import { Environment, type ParseResult } from '@marcbachmann/cel-js'
import type { KbsTee } from '@initguard/kbs-protocol'
import {
  CEL_LIMITS,
  TEE_VARIABLES,
  checkClaimNames,
  checkClaimsExpressionTees,
  checkHasArguments,
  checkNoOptionalNamespace,
  checkTypedClaims,
  claimPathsNamed,
} from './claims-expression-checks.ts'
import {
  checkHexLiterals,
  checkNoConstantClauses,
  checkNullableLiterals,
  checkNoShadowedVariables,
} from './claims-expression-constants.ts'
import { TEE_CLAIM_FIELDS, celClaimValues } from './claims-schema.ts'
import { invalid, stringAt } from './definition-reader.ts'

/** Longest accepted expression, in characters. */
export const MAX_CEL_LENGTH = 8192

const environment = new Environment({
  limits: CEL_LIMITS,
})
  .registerVariable('tee', 'string')
  .registerVariable({ name: 'snp', schema: TEE_CLAIM_FIELDS.snp })
  .registerVariable({ name: 'tdx', schema: TEE_CLAIM_FIELDS.tdx })
  .registerVariable({ name: 'sgx', schema: TEE_CLAIM_FIELDS.sgx })
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
 * Parse and type-check `value` (the definition's `cel`) for a workload on `tees`.
 *
 * @throws `ERR_KBS_WORKLOAD_RULE_INAPPLICABLE` for a rule on another TEE's claims (see
 *   {@link checkClaimsExpressionTees}), checked before the names, so that is what it is told.
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path` for a non-string, an over-long text, a syntax error,
 *   a TEE claim that is not declared (see {@link checkClaimNames}), a `has()` of anything but a
 *   field selection, the `optional` namespace, a type error (the message gives the declared type of each claim the
 *   expression names), an expression that cannot yield a bool, or one that hides a claims object
 *   from the check (see {@link checkTypedClaims}).
 */
export function compileClaimsExpression(
  value: unknown,
  path: string,
  tees: readonly KbsTee[],
): ParseResult {
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
  checkNoShadowedVariables(parsed, path)
  checkClaimsExpressionTees(parsed, tees, path)
  checkClaimNames(parsed, path)
  checkHasArguments(parsed, path)
  checkNoOptionalNamespace(parsed, path)
  const checked = parsed.check()
  if (!checked.valid) {
    const named = [...claimPathsNamed(parsed)].map(([name, type]) => `${name} is ${type}`)
    throw invalid(
      path,
      `does not type-check: ${firstLine(checked.error?.message ?? 'unknown type error')}${named.length === 0 ? '' : ` (${named.join(', ')})`}`,
      `${CEL_HINT}; compare each claim with a value of its type (an int with 0, not "0", 0.0 or 0u: rewrite such a literal, do not drop the rule; hex as a lower-case string), and read a claims object field by field (has(tdx.quote.body.tee_tcb_svn2), not "tee_tcb_svn2" in tdx.quote.body; no size() or exists() over it)`,
    )
  }
  if (checked.type !== 'bool' && checked.type !== 'dyn') {
    throw invalid(path, `yields ${checked.type ?? 'an unknown type'}, not a bool`, CEL_HINT)
  }
  checkTypedClaims(parsed, path)
  checkNoConstantClauses(parsed, path)
  checkHexLiterals(parsed, path)
  checkNullableLiterals(parsed, path)
  return parsed
}

/** `claims` with each TEE's claims as the declared CEL types ({@link celClaimValues}). */
function celActivation(
  claims: Readonly<Record<string, unknown>>,
): Readonly<Record<string, unknown>> {
  const activation: Record<string, unknown> = { ...claims }
  for (const tee of TEE_VARIABLES) {
    if (tee in claims) activation[tee] = celClaimValues(TEE_CLAIM_FIELDS[tee], claims[tee])
  }
  return activation
}

/** Why an expression did not hold, or `undefined` when it yielded `true`. */
export function claimsExpressionFailure(
  expression: ParseResult,
  claims: Readonly<Record<string, unknown>>,
): string | undefined {
  let result: unknown
  try {
    result = expression(celActivation(claims))
  } catch (error) {
    return `its CEL expression could not be evaluated over these claims: ${firstLine(error instanceof Error ? error.message : String(error))}`
  }
  if (result === true) return undefined
  if (result === false) return 'its CEL expression is false for these claims'
  return `its CEL expression yielded ${typeof result}, not a bool`
}

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
 * error is refused at `put`; so is a rule for a TEE the workload does not run on (see
 * {@link checkClaimsExpressionTees}). At attestation only `true` counts: `false`, another value, or an
 * evaluation error (a missing key, say) does not match, and the reason says which.
 *
 * @module
 */
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js'
import type { KbsTee } from '@initguard/kbs-protocol'
import { inapplicable, invalid, stringAt } from './definition-reader.ts'

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

/** The claims variables that hold one TEE's claims (set only for evidence from that TEE). */
const TEE_VARIABLES: readonly string[] = ['snp', 'tdx', 'sgx']

/** Macros whose leading identifier arguments bind comprehension variables (`x` in `l.all(x, …)`). */
const MACROS: readonly string[] = [
  'all',
  'exists',
  'exists_one',
  'map',
  'filter',
  'transformList',
  'transformMap',
]

/** `node` when it is the free variable `tee`. */
function isTee(node: ASTNode, bound: ReadonlySet<string>): boolean {
  return node.op === 'id' && node.args === 'tee' && !bound.has('tee')
}

/** The string literals `tee` is compared with in `node` (`==`, `!=`, `in [..]`), if it is such a comparison. */
function teeLiterals(node: ASTNode, bound: ReadonlySet<string>): string[] {
  if (node.op !== '==' && node.op !== '!=' && node.op !== 'in') return []
  const [left, right] = node.args
  const literal = (n: ASTNode): string[] =>
    n.op === 'value' && typeof n.args === 'string' ? [n.args] : []
  if (node.op === 'in') {
    return isTee(left, bound) && right.op === 'list' ? right.args.flatMap(literal) : []
  }
  if (isTee(left, bound)) return literal(right)
  if (isTee(right, bound)) return literal(left)
  return []
}

function* children(node: ASTNode): Generator<ASTNode> {
  const args: unknown = node.args
  const items = Array.isArray(args) ? (args as unknown[]) : [args]
  for (const item of items) {
    if (Array.isArray(item)) {
      for (const inner of item as unknown[]) if (isNode(inner)) yield inner
    } else if (isNode(item)) yield item
  }
}

function isNode(value: unknown): value is ASTNode {
  return typeof value === 'object' && value !== null && 'op' in value && 'args' in value
}

/**
 * Refuse an expression that names the claims of a TEE the workload does not run on (`sgx.…` on a
 * workload for snp and tdx fails to evaluate, "Unknown variable: sgx", or sits in a branch never
 * taken), or compares `tee` with one (`tee == "sgx" || …`: that clause is constant). Either is a
 * rule written for evidence the workload never sees: it checks nothing, and reads as if it did.
 * Comprehension variables (`l.exists(sgx, …)`) are local, not the claims.
 *
 * @throws `ERR_KBS_WORKLOAD_RULE_INAPPLICABLE` at `path`.
 */
export function checkClaimsExpressionTees(
  expression: ParseResult,
  tees: readonly KbsTee[],
  path: string,
): void {
  const runsOn = `the workload runs only on ${tees.join(', ')}`
  const hint = `write the expression over the claims of ${tees.join(', ')} only, or add the TEE to "tees" (with its reference values)`
  const visit = (node: ASTNode, bound: ReadonlySet<string>): void => {
    if (node.op === 'id') {
      const name = node.args
      if (
        TEE_VARIABLES.includes(name) &&
        !bound.has(name) &&
        !(tees as readonly string[]).includes(name)
      ) {
        throw inapplicable(
          path,
          `names the ${name} claims, but ${runsOn}: the ${name} claims are never set for its evidence`,
          hint,
          { tees, variable: name },
        )
      }
      return
    }
    for (const literal of teeLiterals(node, bound)) {
      if (!(tees as readonly string[]).includes(literal)) {
        throw inapplicable(
          path,
          `compares tee with ${JSON.stringify(literal)}, but ${runsOn}: that comparison is constant`,
          hint,
          { tees, literal },
        )
      }
    }
    if (node.op === 'rcall' && MACROS.includes(node.args[0])) {
      const [, receiver, macroArgs] = node.args
      visit(receiver, bound)
      const names = macroArgs.slice(0, -1).flatMap((a) => (a.op === 'id' ? [a] : []))
      const binders = new Set<ASTNode>(names)
      const inner = new Set([...bound, ...names.map((a) => a.args)])
      for (const arg of macroArgs) if (!binders.has(arg)) visit(arg, inner)
      return
    }
    for (const child of children(node)) visit(child, bound)
  }
  visit(expression.ast, new Set())
}

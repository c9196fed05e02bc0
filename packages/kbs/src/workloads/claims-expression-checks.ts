/**
 * The put-time checks of a workload's CEL expression that the type checker alone does not make
 * (see `claims-expression.ts`, which runs them): a rule on a TEE the workload does not run on,
 * a TEE claim that is not declared, `has()` of anything but a field selection, the `optional`
 * namespace, and the forms that take a claims object out of the checker's sight, found by the
 * types it inferred.
 *
 * @module
 */
import type { ASTNode, ParseResult } from '@marcbachmann/cel-js'
import type { KbsTee } from '@initguard/kbs-protocol'
import {
  OPTIONAL_CLAIMS,
  TEE_CLAIM_FIELDS,
  type ClaimFields,
  type ClaimType,
} from './claims-schema.ts'
import { inapplicable, invalid } from './definition-reader.ts'

/** The claims variables that hold one TEE's claims (set only for evidence from that TEE). */
export const TEE_VARIABLES: readonly KbsTee[] = ['snp', 'tdx', 'sgx']

/** Every variable the expression sees (`claims-expression.ts` registers them). */
export const CLAIMS_VARIABLES: readonly string[] = [
  'tee',
  ...TEE_VARIABLES,
  'init_data',
  'init_data_claims',
  'report_data',
  'runtime_data_claims',
]

function isTeeVariable(name: string): name is KbsTee {
  return (TEE_VARIABLES as readonly string[]).includes(name)
}

/** Macros whose leading identifier arguments bind comprehension variables (`x` in `l.all(x, …)`). */
export const MACROS: readonly string[] = [
  'all',
  'exists',
  'exists_one',
  'map',
  'filter',
  'transformList',
  'transformMap',
]

/**
 * The limits every workload expression is parsed and evaluated with, and the constants a put-time
 * check evaluates (`claims-expression-constants.ts`).
 */
export const CEL_LIMITS = {
  maxAstNodes: 2000,
  maxDepth: 64,
  maxListElements: 256,
  maxMapEntries: 256,
} as const

/** The names a `cel.bind` or comprehension binds where a node stands (a set, or a scope's map). */
export type BoundNames = Pick<ReadonlySet<string>, 'has'>

/** Whether `node` is `cel.bind(v, init, body)` (its variable an identifier). */
export function isBind(
  node: ASTNode,
  bound: BoundNames,
): node is ASTNode & { op: 'rcall'; args: [string, ASTNode, ASTNode[]] } {
  if (node.op !== 'rcall' || node.args[0] !== 'bind') return false
  const [, receiver, args] = node.args
  return (
    receiver.op === 'id' &&
    receiver.args === 'cel' &&
    !bound.has('cel') &&
    args.length === 3 &&
    args[0]?.op === 'id'
  )
}

/** `node` when it is the free variable `tee`. */
function isTee(node: ASTNode, bound: BoundNames): boolean {
  return node.op === 'id' && node.args === 'tee' && !bound.has('tee')
}

/**
 * The string literals `tee` is compared with in `node` (`==`, `!=`, `in [..]`), if it is such a
 * comparison with literals only, with the `tee` node compared.
 */
function teeLiterals(
  node: ASTNode,
  bound: BoundNames,
): { readonly tee: ASTNode; readonly literals: readonly string[] } | undefined {
  if (node.op !== '==' && node.op !== '!=' && node.op !== 'in') return undefined
  const [left, right] = node.args
  const literal = (n: ASTNode): string | undefined =>
    n.op === 'value' && typeof n.args === 'string' ? n.args : undefined
  if (node.op === 'in') {
    if (!isTee(left, bound) || right.op !== 'list') return undefined
    const literals = right.args.flatMap((item) => literal(item) ?? [])
    return literals.length === right.args.length ? { tee: left, literals } : undefined
  }
  const [tee, other] = isTee(left, bound) ? [left, right] : [right, left]
  const value = isTee(tee, bound) ? literal(other) : undefined
  return value === undefined ? undefined : { tee, literals: [value] }
}

/** The operand nodes of `node`, one level down. */
export function* children(node: ASTNode): Generator<ASTNode> {
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
  /** The `tee` nodes compared with TEE names written out, each checked where it is compared. */
  const compared = new Set<ASTNode>()
  walkFree(expression.ast, (node, bound) => {
    if (node.op === 'id') {
      const name = node.args
      if (isTee(node, bound) && !compared.has(node)) {
        throw invalid(
          path,
          'uses tee other than compared with a TEE name written out (tee == "snp", tee != "tdx", tee in ["snp", "tdx"]): the check cannot tell which TEEs it means, so it cannot refuse a comparison that is constant for this workload (tee != "sg" + "x" holds for every guest)',
          `compare tee itself with a string literal (or a list of them) naming ${tees.join(', ')}, not a value computed from it or bound to a variable`,
        )
      }
      if (isTeeVariable(name) && !bound.has(name) && !(tees as readonly string[]).includes(name)) {
        throw inapplicable(
          path,
          `names the ${name} claims, but ${runsOn}: the ${name} claims are never set for its evidence`,
          hint,
          { tees, variable: name },
        )
      }
      return
    }
    const comparison = teeLiterals(node, bound)
    if (comparison !== undefined) compared.add(comparison.tee)
    for (const literal of comparison?.literals ?? []) {
      if (!(tees as readonly string[]).includes(literal)) {
        throw inapplicable(
          path,
          `compares tee with ${JSON.stringify(literal)}, but ${runsOn}: that comparison is constant`,
          hint,
          { tees, literal },
        )
      }
    }
  })
}

/** How {@link walkScoped} values each variable that a `cel.bind` or a comprehension binds. */
export interface ScopeValues<V> {
  /** `v` of `cel.bind(v, init, body)`, from `init` in the enclosing scope. */
  bound(init: ASTNode, scope: ReadonlyMap<string, V>): V
  /** A comprehension variable of a macro over `receiver`, in the enclosing scope. */
  ranging(receiver: ASTNode, scope: ReadonlyMap<string, V>): V
}

/**
 * Call `visit` on every node of `ast`, before its children, with the variables bound there and
 * their values (`x` in `l.all(x, …)` is local in the macro's other arguments, valued by
 * `values.ranging(l)`; `v` in `cel.bind(v, init, body)` is local in `body`, valued by
 * `values.bound(init)`). `named` is called on each variable node as it is bound.
 */
export function walkScoped<V>(
  ast: ASTNode,
  visit: (node: ASTNode, scope: ReadonlyMap<string, V>) => void,
  values: ScopeValues<V>,
  named?: (variable: ASTNode & { op: 'id' }) => void,
): void {
  const walk = (node: ASTNode, scope: ReadonlyMap<string, V>): void => {
    visit(node, scope)
    if (isBind(node, scope)) {
      const [variable, init, body] = node.args[2]
      walk(node.args[1], scope)
      if (init !== undefined) walk(init, scope)
      if (init !== undefined && body !== undefined && variable?.op === 'id') {
        named?.(variable)
        walk(body, new Map([...scope, [variable.args, values.bound(init, scope)]]))
      }
      return
    }
    if (node.op === 'rcall' && MACROS.includes(node.args[0])) {
      const [, receiver, macroArgs] = node.args
      walk(receiver, scope)
      const names = macroArgs.slice(0, -1).flatMap((a) => (a.op === 'id' ? [a] : []))
      for (const name of names) named?.(name)
      const value = values.ranging(receiver, scope)
      const binders = new Set<ASTNode>(names)
      const inner = new Map([...scope, ...names.map((a) => [a.args, value] as const)])
      for (const arg of macroArgs) if (!binders.has(arg)) walk(arg, inner)
      return
    }
    for (const child of children(node)) walk(child, scope)
  }
  walk(ast, new Map())
}

/** {@link walkScoped} where only the names bound matter, not what they hold. */
export function walkFree(
  ast: ASTNode,
  visit: (node: ASTNode, bound: BoundNames) => void,
  bind?: (variable: ASTNode & { op: 'id' }) => void,
): void {
  walkScoped<undefined>(ast, visit, { bound: () => undefined, ranging: () => undefined }, bind)
}

/**
 * The TEE claims variable and the field names `node` selects under it (`tdx.quote["body"].mr_td`
 * is `tdx`, `quote`, `body`, `mr_td`), or `undefined` when `node` is not such a selection (a
 * computed index, a comprehension variable).
 */
function claimSelection(
  node: ASTNode,
  bound: BoundNames,
): { readonly tee: KbsTee; readonly fields: readonly string[] } | undefined {
  const fields: string[] = []
  let at = node
  for (;;) {
    if (at.op === '.') {
      const [receiver, field] = at.args
      fields.unshift(field)
      at = receiver
    } else if (at.op === '[]' && at.args[1].op === 'value' && typeof at.args[1].args === 'string') {
      fields.unshift(at.args[1].args)
      at = at.args[0]
    } else break
  }
  if (fields.length === 0 || at.op !== 'id' || !isTeeVariable(at.args) || bound.has(at.args)) {
    return undefined
  }
  return { tee: at.args, fields }
}

/** A scalar claim type has no fields; `dyn` and lists are not looked into. */
function isScalar(type: ClaimType): boolean {
  return type === 'string' || type === 'int' || type === 'bool'
}

/**
 * The declared type of a claim selection (`dyn` past a `dyn` or list claim).
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path` for a field the claims do not declare, naming the
 *   fields they do, or a field of a scalar claim.
 */
function selectedType(
  tee: KbsTee,
  fields: readonly string[],
  path: string,
  alias?: ClaimsAlias,
): ClaimType {
  let type: ClaimType = TEE_CLAIM_FIELDS[tee]
  let at: string = tee
  /** What the expression wrote, up to field `i`. */
  const written = (i: number): string =>
    alias === undefined
      ? [tee, ...fields.slice(0, i + 1)].join('.')
      : `${[alias.variable, ...fields.slice(alias.skip, i + 1)].join('.')} (${alias.variable} is the ${[tee, ...fields.slice(0, alias.skip)].join('.')} claims)`
  for (const [i, field] of fields.entries()) {
    if (typeof type === 'object') {
      const declared: ClaimFields = type
      const next = declared[field]
      if (next === undefined) {
        throw invalid(
          path,
          `names ${written(i)}, but the ${at} claims have no field ${JSON.stringify(field)}; they have ${Object.keys(declared).join(', ')}`,
          `name a claim the ${tee} verifier emits (spelled as listed), or check for it with has()`,
        )
      }
      type = next
      at = `${at}.${field}`
    } else if (isScalar(type)) {
      throw invalid(
        path,
        `names ${written(i)}, but ${at} is ${type}, which has no fields`,
        `compare ${at} itself`,
      )
    } else return 'dyn'
  }
  return type
}

/**
 * Refuse `has()` of a declared claim every piece of evidence of its TEE has (`has(snp.measurement)`):
 * it is true wherever it can be evaluated, so `has(snp.measurement) || …` held for every guest.
 * `has()` is for the claims some evidence lacks ({@link OPTIONAL_CLAIMS}), not the objects that
 * hold them (`has(tdx.quote.body)` is as constant); past a `dyn` claim nothing is declared, and
 * nothing is refused.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`.
 */
function checkHasOptional(tee: KbsTee, fields: readonly string[], path: string): void {
  let type: ClaimType = TEE_CLAIM_FIELDS[tee]
  for (const field of fields) {
    if (typeof type !== 'object') return
    const next: ClaimType | undefined = type[field]
    if (next === undefined) return
    type = next
  }
  const claim = fields.join('.')
  const optional = OPTIONAL_CLAIMS[tee]
  // The object that holds an optional claim is itself always there: has(tdx.quote.body) is true.
  if (optional.includes(claim)) return
  throw invalid(
    path,
    `calls has(${tee}.${claim}), but every ${tee} evidence has ${tee}.${claim}: it is always true`,
    `use has() for the claims some evidence lacks (${optional.map((o) => `${tee}.${o}`).join(', ')}), and read ${tee}.${claim} directly`,
  )
}

/** A variable bound to a claims object (`x` in `[snp].all(x, …)`), its fields the first `skip`. */
interface ClaimsAlias {
  readonly variable: string
  readonly skip: number
}

/**
 * Refuse a selection of a TEE claim the verifier never emits (`snp.measurment`,
 * `has(tdx.quote.body.mrtd)`; the type checker refuses neither inside `has()`, and a computed
 * map key not at all), and of a field of a scalar claim (`snp.vmpl.x`).
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, naming the claim and the fields there are.
 */
export function checkClaimNames(expression: ParseResult, path: string): void {
  walkFree(expression.ast, (node, bound) => {
    const selection = claimSelection(node, bound)
    if (selection !== undefined) selectedType(selection.tee, selection.fields, path)
  })
}

/** Each declared scalar claim `expression` names (`snp.vmpl`), with its type. */
export function claimPathsNamed(expression: ParseResult): Map<string, string> {
  const named = new Map<string, string>()
  walkFree(expression.ast, (node, bound) => {
    const selection = claimSelection(node, bound)
    if (selection === undefined) return
    const type = selectedType(selection.tee, selection.fields, '$.cel')
    if (typeof type === 'string' && type !== 'dyn') {
      named.set([selection.tee, ...selection.fields].join('.'), type)
    }
  })
  return named
}

/**
 * Refuse a `has()` whose argument is not a field selection starting at a variable
 * (`has(dyn(snp).f)`, `has([snp][0].f)`); the type checker refuses it too, as "has() invalid
 * argument", which does not say what to write instead.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`.
 */
export function checkHasArguments(expression: ParseResult, path: string): void {
  walkFree(expression.ast, (node) => {
    if (node.op !== 'call' || node.args[0] !== 'has') return
    const [argument] = node.args[1]
    let at = argument
    while (at?.op === '.') at = at.args[0]
    if (argument?.op === '.' && at?.op === 'id' && node.args[1].length === 1) return
    throw invalid(
      path,
      'calls has() on something other than a field selection starting at a variable',
      'write has(snp.field), has(tdx.quote.body.field) or has(init_data_claims.key): has() takes the selection itself, not a value computed from it (no dyn(), index or call inside); for a key under a file name, write "kbc" in init_data_claims["cdh.toml"]',
    )
  })
}

/**
 * Refuse the `optional` namespace (`optional.of(x)`, `optional.none()`). cel-js's type checker
 * knows it even with optional types off (as here: `x.?f` does not parse), but evaluation then has
 * no value for it, so such an expression passed the put and refused every guest ("Unknown
 * variable: optional"). A comprehension or `cel.bind` variable named `optional` is local.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`.
 */
export function checkNoOptionalNamespace(expression: ParseResult, path: string): void {
  walkFree(expression.ast, (node, bound) => {
    if (node.op !== 'id' || node.args !== 'optional' || bound.has('optional')) return
    throw invalid(
      path,
      'uses the optional namespace (optional.of, optional.none), which is not enabled: it would fail to evaluate for every guest',
      'test for an optional claim with has(snp.field) (has(x) ? x : default for a default), not optional values',
    )
  })
}

/** The CEL types with no fields: `has()` of a field of one is always false. */
const SCALAR_TYPES: readonly string[] = ['string', 'int', 'uint', 'double', 'bool', 'bytes']

/** A type as the cel-js type checker records it on each node it checked (`checkedType`). */
interface CheckedType {
  readonly name: string
  readonly kind: string
  readonly valueType?: CheckedType
  readonly keyType?: CheckedType
}

function isCheckedType(value: unknown): value is CheckedType {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { name?: unknown }).name === 'string' &&
    typeof (value as { kind?: unknown }).kind === 'string'
  )
}

/** The type the checker inferred for `node`, if it checked it (not the fields inside `has()`). */
function checkedTypeOf(node: ASTNode | undefined): CheckedType | undefined {
  const type: unknown = (node as { checkedType?: unknown } | undefined)?.checkedType
  return isCheckedType(type) ? type : undefined
}

/** A declared claims object: the TEE and the fields leading to it (`tdx`, `quote`, `body`). */
export interface ClaimsObject {
  readonly tee: KbsTee
  readonly fields: readonly string[]
}

/**
 * The claims objects by the name cel-js gives their types (`$snp`, `$tdx.quote.body`): a variable
 * registered with a schema is of type `$name`, and each nested object of `$name.field`.
 */
const CLAIMS_OBJECT_TYPES: ReadonlyMap<string, ClaimsObject> = (() => {
  const types = new Map<string, ClaimsObject>()
  const add = (tee: KbsTee, fields: readonly string[], declared: ClaimFields): void => {
    types.set(`$${[tee, ...fields].join('.')}`, { tee, fields })
    for (const [field, type] of Object.entries(declared)) {
      if (typeof type === 'object') add(tee, [...fields, field], type)
    }
  }
  for (const tee of TEE_VARIABLES) add(tee, [], TEE_CLAIM_FIELDS[tee])
  return types
})()

/** The claims object `node` is, by the type the checker inferred for it (`snp`, `x` in `[snp].all(x, …)`). */
export function claimsObjectOf(node: ASTNode): ClaimsObject | undefined {
  return CLAIMS_OBJECT_TYPES.get(checkedTypeOf(node)?.name ?? '')
}

/** The claims object `type` is, holds (a list or map of them) or wraps, if any. */
function claimsIn(type: CheckedType | undefined): ClaimsObject | undefined {
  if (type === undefined) return undefined
  return CLAIMS_OBJECT_TYPES.get(type.name) ?? claimsIn(type.valueType) ?? claimsIn(type.keyType)
}

function hasDyn(type: CheckedType | undefined): boolean {
  return (
    type !== undefined && (type.kind === 'dyn' || hasDyn(type.valueType) || hasDyn(type.keyType))
  )
}

/** Whether `node` reads a TEE's claims (a node in it is of a claims object type). */
function readsTeeClaims(node: ASTNode): boolean {
  if (CLAIMS_OBJECT_TYPES.has(checkedTypeOf(node)?.name ?? '')) return true
  for (const child of children(node)) if (readsTeeClaims(child)) return true
  return false
}

/** The text of the expression `node` was parsed from. */
export function sourceOf(node: ASTNode): string {
  return node.input.slice(node.start, node.end)
}

const claimsName = (claims: ClaimsObject): string => [claims.tee, ...claims.fields].join('.')

/**
 * The value operands of a node that builds or chooses a value (`?:`, a list, a map, a `+` that
 * concatenates lists or maps: `init_data_claims.l + [snp]` is dyn).
 */
function valueOperands(node: ASTNode): readonly ASTNode[] {
  if (node.op === '?:') return [node.args[1], node.args[2]]
  if (node.op === '+') return [node.args[0], node.args[1]]
  if (node.op === 'list') return node.args
  if (node.op === 'map') return node.args.map(([, value]) => value)
  return []
}

/**
 * Refuse the forms that take a claims object out of the type checker's sight, found by the types
 * it inferred (so through comprehension and `cel.bind` variables, lists and maps as well): each
 * passed the check and then refused every guest at appraisal ("No such key", or a constant
 * false), or, as `!has(x.misspelled)`, held for every guest.
 *
 * - `has(x.f)` where `x` holds a claims object: the checker checks only `x`, so `f` is checked here
 *   against the declared fields (a free `snp` is {@link checkClaimNames}'s); and where `x` is a
 *   scalar (`init_data`, a claim bound by a comprehension): always false. Likewise through the
 *   fields of a map (`has(m.k.f)` where `m` is `{"k": snp}`).
 * - `dyn(e)` where `e` is, or holds, a claims object: its fields are then anything.
 * - `x[k]` on a claims object with a key that is not a string literal: which claim is unknown.
 * - `c ? snp : init_data_claims` (and a list or map of both, and `init_data_claims.l + [snp]`):
 *   the result is `dyn`; and `[snp] + init_data_claims.l`, typed as the left list though its
 *   elements from the init-data are anything.
 * - `type(snp)`: always the declared type, so a comparison with it is constant.
 *
 * A single claim (`dyn(snp.vmpl)`) and `init_data_claims` / `runtime_data_claims`, which are the
 * guest's own maps, stay dynamic.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, naming the claims object and what to write.
 */
export function checkTypedClaims(expression: ParseResult, path: string): void {
  if (checkedTypeOf(expression.ast) === undefined) {
    // The checks below read the types cel-js records on the AST; without them they would pass
    // anything. A cel-js that stopped recording them must not be used unnoticed.
    throw new Error('@marcbachmann/cel-js recorded no checked types on the expression')
  }
  const direct = (claims: ClaimsObject): string =>
    `read the claims directly, field by field (${claimsName(claims)}.field, as declared in claims-schema.ts)`
  walkFree(expression.ast, (node) => {
    if (node.op === 'call') {
      const [name, args] = node.args
      const [argument] = args
      if (name === 'has' && argument?.op === '.') {
        const fields: string[] = []
        let at: ASTNode = argument
        while (at.op === '.') {
          fields.unshift(at.args[1])
          at = at.args[0]
        }
        if (at.op !== 'id') return
        // Follow the selection through maps (`m.k` where `m` is a map of claims objects, bound by
        // cel.bind or a comprehension) to the claims object or scalar it reaches, if any.
        let type = checkedTypeOf(at)
        for (let i = 0; type !== undefined && i < fields.length; i++) {
          const written = [at.args, ...fields.slice(0, i)].join('.')
          const claims = CLAIMS_OBJECT_TYPES.get(type.name)
          if (claims !== undefined) {
            const claimPath = [...claims.fields, ...fields.slice(i)]
            selectedType(claims.tee, claimPath, path, {
              variable: written,
              skip: claims.fields.length,
            })
            checkHasOptional(claims.tee, claimPath, path)
            break
          }
          if (SCALAR_TYPES.includes(type.name)) {
            throw invalid(
              path,
              `calls has(${[at.args, ...fields].join('.')}), but ${written} is ${type.name}, which has no fields: it is always false`,
              `compare ${written} itself; has() tests for a field of a claims object or a map (has(snp.reported_tcb_fmc), has(init_data_claims.key))`,
            )
          }
          type = type.kind === 'map' ? type.valueType : undefined
        }
        return
      }
      const claims = args.length === 1 ? claimsIn(checkedTypeOf(argument)) : undefined
      const argumentType = checkedTypeOf(argument)
      // dyn() or type() of a value of a known type: the one hides it, the other is constant.
      const known = claims === undefined && argumentType !== undefined && !hasDyn(argumentType)
      if (known && name === 'dyn') {
        throw invalid(
          path,
          `passes a value of type ${argumentType.name} to dyn(), which hides its type from the check: compared with a value of another type it is constant (dyn(snp.vmpl) != "0" holds for every guest)`,
          'leave dyn() out and compare the value with one of its own type (snp.vmpl == 0, an int with an int); dyn() is needed nowhere: init_data_claims and runtime_data_claims are dynamic already',
        )
      }
      if (known && name === 'type') {
        throw invalid(
          path,
          `takes type() of a value of type ${argumentType.name}, which is always ${argumentType.name}: a comparison with it is constant`,
          'leave type() out: the check already holds each claim to its declared type',
        )
      }
      if (claims === undefined) return
      if (name === 'dyn') {
        throw invalid(
          path,
          `passes the ${claimsName(claims)} claims to dyn(), which hides their declared fields and types from the check (a misspelled or mistyped claim would then refuse every guest at appraisal, not the put)`,
          `${direct(claims)}; dyn() is needed nowhere: init_data_claims and runtime_data_claims are dynamic already`,
        )
      }
      if (name === 'type') {
        throw invalid(
          path,
          `takes type() of the ${claimsName(claims)} claims, which is always their declared type: a comparison with it is constant`,
          `${direct(claims)}; test for an optional claim with has(${claimsName(claims)}.field)`,
        )
      }
      return
    }
    if (node.op === '[]' || node.op === '[?]') {
      const [receiver, key] = node.args
      const claims = CLAIMS_OBJECT_TYPES.get(checkedTypeOf(receiver)?.name ?? '')
      if (claims !== undefined && !(key.op === 'value' && typeof key.args === 'string')) {
        throw invalid(
          path,
          `indexes the ${claimsName(claims)} claims with a computed key, so the check cannot tell which claim it reads (a key the claims lack would refuse every guest at appraisal)`,
          `name the field: ${claimsName(claims)}.field or ${claimsName(claims)}["field"]`,
        )
      }
      return
    }
    if (node.op === '==' || node.op === '!=' || node.op === 'in') {
      for (const operand of node.args) {
        const claims = claimsIn(checkedTypeOf(operand))
        if (claims === undefined) continue
        throw invalid(
          path,
          `compares the ${claimsName(claims)} claims as a whole (${node.op}): a claims object never equals a value from init_data_claims or runtime_data_claims, nor a list or map the rule builds, so the comparison is constant (!= holds for every guest)`,
          `${direct(claims)}, and compare claim by claim (${claimsName(claims)}.field == init_data_claims.key); to test which TEE the evidence is from, compare tee (tee == "${claims.tee}")`,
        )
      }
      return
    }
    const operands = valueOperands(node)
    // A + is typed as its left operand: `[snp] + init_data_claims.l` is a list of snp claims to the
    // checker, though its elements from the init-data are anything. So a + mixes when either side
    // is dyn, whatever the result's type says.
    const mixes =
      hasDyn(checkedTypeOf(node)) ||
      (node.op === '+' && operands.some((operand) => hasDyn(checkedTypeOf(operand))))
    if (!mixes) return
    const where = node.op === '?:' ? 'a ?: choice' : `a ${node.op}`
    for (const operand of operands) {
      const operandType = checkedTypeOf(operand)
      const claims = claimsIn(operandType)
      if (claims === undefined) {
        // A claim of a declared type beside a dyn value: the result is dyn, so a comparison of it
        // with a value of another type type-checks and is constant. (A + of scalars is left to
        // the checker: string + dyn is refused or concatenates.)
        const collection = operandType?.kind === 'list' || operandType?.kind === 'map'
        if (
          operandType !== undefined &&
          !hasDyn(operandType) &&
          (node.op !== '+' || collection) &&
          readsTeeClaims(operand)
        ) {
          throw invalid(
            path,
            `mixes ${sourceOf(operand)} (${operandType.name}) with a value of type dyn in ${where}, so the result is dyn and hides the claim's declared type from the check (compared with a value of another type, it is constant)`,
            'keep claims and dynamic values apart: compare the claim in its own clause (tee == "snp" ? snp.vmpl == 0 : init_data_claims.x == "0")',
          )
        }
        continue
      }
      throw invalid(
        path,
        `mixes the ${claimsName(claims)} claims with a value of type dyn in ${where}, so the result is dyn and hides their declared fields from the check`,
        `${direct(claims)}: choose between claims, not claims objects (cond ? ${claimsName(claims)}.field : other)`,
      )
    }
  })
}

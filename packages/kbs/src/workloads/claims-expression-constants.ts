/**
 * The put-time checks that refuse a workload's CEL expression, or a clause of it, that cannot
 * depend on the evidence: it reads no claim, or a local variable named like the claims it seems
 * to read; it compares a claim with itself, or with a literal the claim can never be (hex not in
 * lower case or not of the claim's length, a number for a date string; also through `string()`,
 * `+ ""` or `lowerAscii()`, or as a regular expression no such hex matches); it takes the size of
 * a claim of one length. Each such rule type-checks and reads as a test of the claims, yet holds
 * (or fails) for every guest: `snp.vmpl == 0 || true`, `cel.bind(snp, {"measurement": "ab"},
 * snp.measurement == "ab")`, `snp.measurement != "AB…"`.
 *
 * @module
 */
import { Environment, type ASTNode, type ParseResult } from '@marcbachmann/cel-js'
import { HEX_CLAIM_BYTES, TEE_CLAIM_FIELDS, type ClaimType } from './claims-schema.ts'
import {
  CEL_LIMITS,
  CLAIMS_VARIABLES,
  MACROS,
  children,
  claimsObjectOf,
  type ClaimsObject,
  isBind,
  sourceOf,
  walkFree,
  walkScoped,
} from './claims-expression-checks.ts'
import { invalid } from './definition-reader.ts'

/**
 * Refuse a `cel.bind` or comprehension variable named like one of the expression's variables
 * (`[{"measurement": "x"}].all(snp, snp.measurement == "x")`, `cel.bind(tee, "snp", tee ==
 * "snp")`, or `cel`, which would hide `cel.bind`). Inside it, the name is the local value, not
 * the claims, so what reads as a check of the claims is a check of the rule's own constant.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, naming the variable.
 */
export function checkNoShadowedVariables(expression: ParseResult, path: string): void {
  const reserved = [...CLAIMS_VARIABLES, 'cel']
  walkFree(
    expression.ast,
    () => undefined,
    (variable) => {
      if (!reserved.includes(variable.args)) return
      throw invalid(
        path,
        `binds a variable named ${variable.args} (in cel.bind or a comprehension), which hides the ${variable.args === 'cel' ? 'cel namespace' : `${variable.args} the expression is given`}: inside it, ${variable.args} is the local value, so what reads as a check of the claims checks the rule's own value`,
        `rename the variable (x, s, m): ${reserved.join(', ')} are taken`,
      )
    },
  )
}

/**
 * Refuse an expression, or a clause of one (an operand of `&&`, `||` or `!`, the condition of a
 * `?:`), that reads no variable the evidence sets, directly or through a `cel.bind` or
 * comprehension variable: it is always true or always false, so the expression tests less than
 * it reads as (`snp.vmpl == 0 || 1 < 2` holds for every guest), or nothing at all (`true`). So
 * are a value compared with itself or tested for membership of a list or map written out that
 * holds it (`snp.measurement in [snp.measurement, "…"]`), the size of a list or map written out
 * (`size([snp.vmpl]) == 1`), and a `?:` whose two choices are the same (`snp.vmpl == 0 ? true :
 * true`, constant; `c ? snp.guest_svn > 1 : snp.guest_svn > 1`, whose `c` tests nothing).
 *
 * Run after {@link checkNoShadowedVariables}: a local named like the claims would count as them.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, quoting the clause.
 */
export function checkNoConstantClauses(expression: ParseResult, path: string): void {
  const hint = `write each clause over the claims (${CLAIMS_VARIABLES.join(', ')}), or remove it; to accept every guest the workload's other rules accept, leave "cel" out`
  const constant = (clause: ASTNode): never => {
    throw invalid(
      path,
      `has a clause that reads no claim, ${sourceOf(clause)}, so it is the same for every guest: the expression does not test what it reads as`,
      hint,
    )
  }
  /** Whether `node` reads the evidence; `locals` says, for each bound variable, whether its value does. */
  const reads = (node: ASTNode, locals: ReadonlyMap<string, boolean>): boolean => {
    if (node.op === 'id') return locals.get(node.args) ?? CLAIMS_VARIABLES.includes(node.args)
    if (isBind(node, locals)) {
      const [variable, init, body] = node.args[2]
      if (variable?.op !== 'id' || init === undefined || body === undefined) return true
      // Its value is the body's: cel.bind(x, snp.vmpl, true) is true for every guest.
      return reads(body, new Map([...locals, [variable.args, reads(init, locals)]]))
    }
    if (node.op === 'rcall' && MACROS.includes(node.args[0])) {
      const [, receiver, macroArgs] = node.args
      const receiverReads = reads(receiver, locals)
      const names = macroArgs.slice(0, -1).flatMap((a) => (a.op === 'id' ? [a] : []))
      const binders = new Set<ASTNode>(names)
      const inner = new Map([...locals, ...names.map((a) => [a.args, receiverReads] as const)])
      const predicate = predicateOf(node.args[0], macroArgs)
      const argsRead = macroArgs
        .filter((a) => !binders.has(a))
        .map((a) => {
          const read = reads(a, inner)
          if (!read && a === predicate) constant(a)
          return read
        })
        .some(Boolean)
      return receiverReads || argsRead
    }
    const operands = [...children(node)]
    const each = operands.map((child) => reads(child, locals))
    const [left, right] = operands
    if (
      COMPARISONS.includes(node.op) &&
      each[0] === true &&
      left !== undefined &&
      right !== undefined &&
      sameText(left, right)
    ) {
      throw invalid(
        path,
        `compares ${sourceOf(left)} with itself (${node.op}), so it is the same for every guest`,
        hint,
      )
    }
    const sized = sizeArgument(node)
    if (sized?.op === 'list' || sized?.op === 'map') {
      throw invalid(
        path,
        `takes the size of ${sourceOf(sized)}, a ${sized.op} written out: its size is the same for every guest`,
        hint,
      )
    }
    if (node.op === 'in' && each[0] === true && left !== undefined && right !== undefined) {
      const items =
        right.op === 'list' ? right.args : right.op === 'map' ? right.args.map(([key]) => key) : []
      if (items.some((item) => sameText(item, left))) {
        throw invalid(
          path,
          `tests whether ${sourceOf(left)} is in a ${right.op} that holds it, which it always is: the test is the same for every guest`,
          hint,
        )
      }
    }
    if (node.op === '?:' && sameText(node.args[1], node.args[2])) {
      // The same choice either way: constant when it reads no claim, and its condition tests nothing.
      const [condition, chosen] = node.args
      throw invalid(
        path,
        `chooses ${sourceOf(chosen)} whatever ${sourceOf(condition)} is, so ${each[1] === true ? 'the condition is the same for every guest: it tests nothing' : 'it is the same for every guest'}`,
        hint,
      )
    }
    if (node.op === '&&' || node.op === '||' || node.op === '!_') {
      operands.forEach((operand, i) => {
        if (each[i] === false) constant(operand)
      })
    }
    if (node.op === '?:' && each[0] === false) constant(node.args[0])
    return each.some(Boolean)
  }
  if (!reads(expression.ast, new Map())) {
    throw invalid(path, 'reads no claim, so it is the same for every guest: it tests nothing', hint)
  }
}

/** Whether `a` and `b` are the same text, but for white space. */
function sameText(a: ASTNode, b: ASTNode): boolean {
  return sourceOf(a).replace(/\s+/g, '') === sourceOf(b).replace(/\s+/g, '')
}

/** The argument of `size(x)` or `x.size()`, if `node` is one. */
function sizeArgument(node: ASTNode): ASTNode | undefined {
  if (node.op === 'call' && node.args[0] === 'size' && node.args[1].length === 1) {
    return node.args[1][0]
  }
  if (node.op === 'rcall' && node.args[0] === 'size' && node.args[2].length === 0) {
    return node.args[1]
  }
  return undefined
}

/** The comparison operators: one of a value with itself is constant. */
const COMPARISONS: readonly string[] = ['==', '!=', '<', '<=', '>', '>=']

/**
 * The argument of a comprehension macro that is a condition over its variable (`p` in
 * `l.all(x, p)`, `l.map(x, p, f)`), if any: one that reads no claim makes the macro constant.
 */
function predicateOf(macro: string, args: readonly ASTNode[]): ASTNode | undefined {
  if (['all', 'exists', 'exists_one', 'filter'].includes(macro)) return args.at(-1)
  if (macro === 'map' && args.length === 3) return args[1]
  if ((macro === 'transformList' || macro === 'transformMap') && args.length === 4) return args[2]
  return undefined
}

/**
 * Evaluates what a rule computes from constants alone, with no variable declared and the limits
 * the expression itself is parsed with: the value is the same for every guest.
 */
const CONSTANTS = new Environment({ limits: CEL_LIMITS })

/**
 * The value of `node` when it reads no variable (`"AB" + "CD"`, `["x"][0]`, `-1`), the same for
 * every guest; `undefined` when it reads one (an unknown variable here) or does not evaluate.
 */
function constantValue(node: ASTNode): unknown {
  return evaluateConstant(sourceOf(node))
}

/** The value of the CEL `text` over no variable, or `undefined` when it does not evaluate. */
function evaluateConstant(text: string): unknown {
  try {
    return CONSTANTS.evaluate(text)
  } catch {
    return undefined
  }
}

/** The names of the identifiers in `node` (`a`, `b` in `a + b[0]`). */
function identifiersIn(node: ASTNode, into = new Set<string>()): Set<string> {
  if (node.op === 'id') into.add(node.args)
  for (const child of children(node)) identifiersIn(child, into)
  return into
}

/** The strings a constant value is or holds: itself, a list's items, a map's keys. */
function constantStrings(value: unknown): readonly string[] {
  if (typeof value === 'string') return [value]
  if (Array.isArray(value)) return value.filter((item): item is string => typeof item === 'string')
  if (value instanceof Map) return [...value.keys()].filter((key) => typeof key === 'string')
  if (
    typeof value === 'object' &&
    value !== null &&
    Object.getPrototypeOf(value) === Object.prototype
  )
    return Object.keys(value)
  return []
}

/** A hex claim: its name, and how many digits it has (one of them, for a variable over several). */
interface HexClaim {
  readonly name: string
  readonly digits: readonly number[]
  /** The wrapper it was read through, which leaves its value as it is (`string(snp.measurement)`). */
  readonly via?: string
}

/** What a `cel.bind` or comprehension variable is known to be: literals, or hex claims. */
interface Binding {
  readonly literals: readonly string[]
  readonly claim?: HexClaim
  /**
   * For a `cel.bind` variable bound to constants (`{"v1": "ab…"}`, `a + a` where `a` is one), CEL
   * text that evaluates to its value with no variable: what reads it is a constant too.
   */
  readonly constant?: string
}

/**
 * CEL text for `node` with each `cel.bind` variable bound to constants that it reads bound in
 * the text itself (`cel.bind(d, ["AB…"], d[0])`), so that it evaluates with no variable.
 */
function constantSource(node: ASTNode, env: ReadonlyMap<string, Binding>): string {
  let text = sourceOf(node)
  for (const name of identifiersIn(node)) {
    const constant = env.get(name)?.constant
    if (constant !== undefined) text = `cel.bind(${name}, ${constant}, ${text})`
  }
  return text
}

/**
 * The expression's own hex variables: REPORT_DATA (64 bytes), and the init-data field, HOST_DATA
 * (32, SNP), MRCONFIGID (48, TDX) or CONFIGID (64, SGX).
 */
const HEX_VARIABLES: Readonly<Record<string, HexClaim>> = {
  report_data: { name: 'report_data', digits: [128] },
  init_data: { name: 'init_data', digits: [64, 96, 128] },
}

/**
 * The claims object and the field `node` selects from it (`snp.measurement`, `tdx["tcb_date"]`,
 * `x.mr_td` where `x` is `tdx.quote.body`), if it does.
 */
function selectedField(
  node: ASTNode,
): { readonly claims: ClaimsObject; readonly field: string } | undefined {
  let receiver: ASTNode
  let field: string
  if (node.op === '.') [receiver, field] = node.args
  else if (
    node.op === '[]' &&
    node.args[1].op === 'value' &&
    typeof node.args[1].args === 'string'
  ) {
    receiver = node.args[0]
    field = node.args[1].args
  } else return undefined
  const claims = claimsObjectOf(receiver)
  return claims === undefined ? undefined : { claims, field }
}

/**
 * What `node` wraps when it is a string unchanged: `string(s)`, `s + ""` or `"" + s` (the `""`
 * written out or computed from constants), or `s.lowerAscii()`, which leaves lower-case hex as it
 * is. Only those: any other function or operand may change the value.
 */
function sameStringAs(node: ASTNode, env: ReadonlyMap<string, Binding>): ASTNode | undefined {
  if (node.op === 'call' && node.args[0] === 'string' && node.args[1].length === 1) {
    return node.args[1][0]
  }
  if (node.op === 'rcall' && node.args[0] === 'lowerAscii' && node.args[2].length === 0) {
    return node.args[1]
  }
  if (node.op !== '+') return undefined
  const [left, right] = node.args
  const empty = (side: ASTNode): boolean => evaluateConstant(constantSource(side, env)) === ''
  return empty(right) ? left : empty(left) ? right : undefined
}

/**
 * The hex claim `node` selects (`snp.measurement`, `x.mr_td` where `x` is `tdx.quote.body`), or
 * a variable holds (`h` in `cel.bind(h, snp.measurement, …)`, `[snp.measurement].all(h, …)`),
 * also through wrappers that leave its value as it is ({@link sameStringAs}).
 */
function hexClaim(node: ASTNode, env: ReadonlyMap<string, Binding>): HexClaim | undefined {
  const wrapped = sameStringAs(node, env)
  if (wrapped !== undefined) {
    const claim = hexClaim(wrapped, env)
    return claim === undefined ? undefined : { ...claim, via: sourceOf(node) }
  }
  if (node.op === 'id') {
    return env.has(node.args) ? env.get(node.args)?.claim : HEX_VARIABLES[node.args]
  }
  const selected = selectedField(node)
  if (selected === undefined) return undefined
  const { claims, field } = selected
  const path = [...claims.fields, field].join('.')
  const bytes = HEX_CLAIM_BYTES[claims.tee][path]
  return bytes === undefined ? undefined : { name: `${claims.tee}.${path}`, digits: [bytes * 2] }
}

/** The hex claims a list literal's items all are, as one (`[snp.measurement, snp.image_id]`), if so. */
function hexClaims(node: ASTNode, env: ReadonlyMap<string, Binding>): HexClaim | undefined {
  if (node.op !== 'list' || node.args.length === 0) return undefined
  const claims = node.args.map((item) => hexClaim(item, env))
  if (claims.some((claim) => claim === undefined)) return undefined
  const all = claims.flatMap((claim) => (claim === undefined ? [] : [claim]))
  return {
    name: [...new Set(all.map((claim) => claim.name))].join(' or '),
    digits: [...new Set(all.flatMap((claim) => claim.digits))],
  }
}

/** String functions that test a part of a string: a part that is not lower-case hex is never there. */
const PART_TESTS: Readonly<Record<string, string>> = {
  startsWith: 'start with',
  endsWith: 'end with',
  contains: 'contain',
}

/**
 * Whether the regular expression `pattern` (as `matches()` reads it) can never match a string of
 * lower-case hex digits of one of the lengths `digits`, where that is sure: a pattern of plain
 * characters, but for a leading `^` and a trailing `$`, with one that is not lower-case hex, or
 * longer than the claim, or anchored at both ends and of another length. Any other syntax (a
 * class `[A-F]`, an escape `\S`, a group, a quantifier, an alternative) may match lower-case hex
 * however it is written, and is not judged.
 */
function neverMatchesHex(pattern: string, digits: readonly number[]): boolean {
  const plain = /^(\^?)([^\\.[\](){}|*+?^$]*)(\$?)$/.exec(pattern)
  if (plain === null) return false
  const [, start, text = '', end] = plain
  if (!/^[0-9a-f]*$/.test(text)) return true
  if (start !== '' && end !== '') return !digits.includes(text.length)
  return text.length > Math.max(...digits)
}

/** String functions that every string passes with `""` (`x.startsWith("")`, `x.matches("")`). */
const EMPTY_HOLDS: readonly string[] = [...Object.keys(PART_TESTS), 'matches']

/**
 * Refuse a string literal compared with a hex claim (`==`, `!=`, `in [..]`, `startsWith`,
 * `endsWith`, `contains`; directly or through the variable of a comprehension over a list of
 * literals, `["AB…"].exists(m, m == snp.measurement)`) that the claim can never be: not
 * lower-case hex, or (for `==`, `!=`, `in`) not of the claim's length. The verifiers emit hex in
 * lower case, so `snp.measurement != "AB…"` or `!(snp.measurement in ["AB…"])`, a denylist
 * written in upper case or with a hash of another length, held for every guest. A literal the rule
 * computes from constants alone is held to the same (`"AB" + "CD"`, `["AB…"][0]`,
 * `"ab…".upperAscii()`, `["AB…"].map(x, x)`). So is `""` as
 * the argument of `startsWith`, `endsWith`, `contains` or `matches` of any string: every string
 * passes it (`snp.vmpl == 0 || snp.measurement.startsWith("")` held for every guest). The claim
 * is followed through the wrappers that leave its value as it is (`string(snp.measurement)`,
 * `snp.measurement + ""`, `"" + snp.measurement`, `snp.measurement.lowerAscii()`), and the same
 * literal as a regular expression (`matches`) is refused where no lower-case hex can match it:
 * plain characters, but for `^` and `$` at its ends, one of them not lower-case hex, or too many
 * (`snp.measurement.matches("^ABCD")`); a pattern with any other syntax (`[A-F]`, `\S`) is not
 * judged.
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, naming the claim, the literal and its form.
 */
export function checkHexLiterals(expression: ParseResult, path: string): void {
  const refuse = (claim: HexClaim, literal: string, can: string): never => {
    const digits = claim.digits.join(' or ')
    const compared =
      claim.via === undefined ? claim.name : `${claim.via}, which is ${claim.name} unchanged,`
    const unwrap =
      claim.via === undefined
        ? ''
        : `compare ${claim.name} itself (string(), + "" and lowerAscii() leave lower-case hex as it is), and `
    const value =
      can === 'match'
        ? `write the hex digits the regular expression spells out in lower case, no more of them than ${digits} (a class such as [0-9a-f] or an escape such as \\S is not judged)`
        : `write the value as ${digits} lower-case hex digits, without 0x or spaces (as the definition's own measurements are written); a claim is never "" (to test for an optional one, has(${claim.name}))`
    throw invalid(
      path,
      `compares ${compared} with ${JSON.stringify(literal)}, which it can never ${can}: ${claim.name} is ${digits} lower-case hex digits, so the comparison is the same for every guest`,
      `${unwrap}${value}`,
    )
  }
  const exact = (claim: HexClaim, literal: string): void => {
    if (!/^[0-9a-f]*$/.test(literal) || !claim.digits.includes(literal.length)) {
      refuse(claim, literal, 'equal')
    }
  }
  /**
   * The string literals `node` may be or hold: itself, the items or keys of a list or map literal,
   * or what a `cel.bind` or comprehension variable was bound to or ranges over.
   */
  const literals = (node: ASTNode, env: ReadonlyMap<string, Binding>): readonly string[] => {
    if (node.op === 'value') return typeof node.args === 'string' ? [node.args] : []
    if (node.op === 'list') return node.args.flatMap((item) => literals(item, env))
    if (node.op === 'map') return node.args.flatMap(([key]) => literals(key, env))
    if (node.op === '?:') return [...literals(node.args[1], env), ...literals(node.args[2], env)]
    if (node.op === 'id') return env.get(node.args)?.literals ?? []
    // Computed from constants ("AB" + "CD", ["AB"][0], "ab".upperAscii(), ["AB"].map(x, x)),
    // directly or through cel.bind variables bound to them (deny.v1, d[0]).
    return constantStrings(evaluateConstant(constantSource(node, env)))
  }
  const check = (node: ASTNode, env: ReadonlyMap<string, Binding>): void => {
    const sized = sizeArgument(node)
    const sizedClaim = sized === undefined ? undefined : hexClaim(sized, env)
    const [digits, ...others] = sizedClaim?.digits ?? []
    if (sizedClaim !== undefined && digits !== undefined && others.length === 0) {
      throw invalid(
        path,
        `takes the size of ${sizedClaim.name}, which is always ${digits} (lower-case hex digits): a comparison with it is the same for every guest`,
        `compare ${sizedClaim.name}'s value itself (it is ${digits} hex digits, ${digits / 2} bytes, for every guest)`,
      )
    }
    if (node.op === '==' || node.op === '!=') {
      const [left, right] = node.args
      for (const [claimSide, other] of [
        [left, right],
        [right, left],
      ] as const) {
        const claim = hexClaim(claimSide, env)
        if (claim !== undefined) for (const literal of literals(other, env)) exact(claim, literal)
      }
    } else if (node.op === 'in') {
      const [left, right] = node.args
      const claim = hexClaim(left, env)
      if (claim !== undefined) for (const literal of literals(right, env)) exact(claim, literal)
    } else if (node.op === 'rcall' && EMPTY_HOLDS.includes(node.args[0])) {
      const [name, receiver, args] = node.args
      const claim = hexClaim(receiver, env)
      const [argument] = args
      if (argument !== undefined && literals(argument, env).includes('')) {
        throw invalid(
          path,
          `calls ${name}("") on ${sourceOf(receiver)}, which holds for every string: the test is the same for every guest`,
          `write the part the claim must ${PART_TESTS[name] ?? 'match'} (as lower-case hex digits for a hex claim), or leave the clause out`,
        )
      }
      if (claim !== undefined && argument !== undefined) {
        for (const literal of literals(argument, env)) {
          if (name === 'matches') {
            if (neverMatchesHex(literal, claim.digits)) refuse(claim, literal, 'match')
          } else if (!/^[0-9a-f]*$/.test(literal) || literal.length > Math.max(...claim.digits)) {
            refuse(claim, literal, PART_TESTS[name] ?? name)
          }
        }
      }
    }
  }
  walkScoped<Binding>(expression.ast, check, {
    bound: (init, env) => {
      const claim = hexClaim(init, env)
      const source = constantSource(init, env)
      const constant = evaluateConstant(source) === undefined ? undefined : source
      return {
        literals: literals(init, env),
        ...(claim === undefined ? {} : { claim }),
        ...(constant === undefined ? {} : { constant }),
      }
    },
    ranging: (receiver, env) => {
      const claim = hexClaims(receiver, env)
      return { literals: literals(receiver, env), ...(claim === undefined ? {} : { claim }) }
    },
  })
}

/**
 * The declared type of the claim `node` selects from a claims object (`tdx.tcb_date`,
 * `tdx["tcb_date"]`, `x.tcb_date` where `x` is `tdx`), if it does.
 */
function declaredType(
  node: ASTNode,
): { readonly name: string; readonly type: ClaimType } | undefined {
  const selected = selectedField(node)
  if (selected === undefined) return undefined
  const { claims, field } = selected
  let type: ClaimType | undefined = TEE_CLAIM_FIELDS[claims.tee]
  for (const name of [...claims.fields, field]) {
    type = typeof type === 'object' ? type[name] : undefined
  }
  return type === undefined
    ? undefined
    : { name: [claims.tee, ...claims.fields, field].join('.'), type }
}

/**
 * The claim declared `dyn` that `node` selects, or a variable holds (`d` in `cel.bind(d,
 * tdx.tcb_date, …)` or `[tdx.tcb_date].all(d, …)`): its name.
 */
function nullableClaim(
  node: ASTNode,
  env: ReadonlyMap<string, string | undefined>,
): string | undefined {
  if (node.op === 'id') return env.get(node.args)
  const claim = declaredType(node)
  return claim?.type === 'dyn' ? claim.name : undefined
}

/**
 * Refuse a literal (or a value computed from constants, `-1`, `[2024][0]`) of another type than
 * string or null compared with a claim declared `dyn` (`tdx.tcb_date`, a date string or null;
 * also as `tdx["tcb_date"]` or through a `cel.bind` or comprehension variable that holds it): the
 * type checker takes any, and `tdx.tcb_date != 2024` held for every guest (`tdx.tcb_date > 2024`
 * refused every guest, "no such overload").
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` at `path`, naming the claim and the literal.
 */
export function checkNullableLiterals(expression: ParseResult, path: string): void {
  const check = (node: ASTNode, env: ReadonlyMap<string, string | undefined>): void => {
    if (!COMPARISONS.includes(node.op) && node.op !== 'in') return
    const [left, right] = [...children(node)]
    if (left === undefined || right === undefined) return
    const pairs =
      node.op === 'in'
        ? [[left, right] as const]
        : ([
            [left, right],
            [right, left],
          ] as const)
    for (const [claimSide, other] of pairs) {
      const claim = nullableClaim(claimSide, env)
      if (claim === undefined) continue
      const items = other.op === 'list' && node.op === 'in' ? other.args : [other]
      for (const item of items) {
        // A literal, or a value computed from constants (-1, [2024][0]).
        const value = item.op === 'value' ? item.args : constantValue(item)
        if (value === undefined || value === null || typeof value === 'string') continue
        throw invalid(
          path,
          `compares ${claim} with ${sourceOf(item)}, but ${claim} is a string or null: the comparison is the same for every guest, or fails to evaluate`,
          `compare the claim ${claim} with a string ("2024-01-01T00:00:00Z": ISO 8601 dates compare as strings) or null`,
        )
      }
    }
  }
  walkScoped<string | undefined>(expression.ast, check, {
    bound: (init, env) => nullableClaim(init, env),
    // A variable over a list written out of such claims is one of them.
    ranging: (receiver, env) => {
      const claims =
        receiver.op === 'list' ? receiver.args.map((item) => nullableClaim(item, env)) : []
      return claims.length > 0 && claims.every((c) => c !== undefined)
        ? [...new Set(claims)].join(' or ')
        : undefined
    },
  })
}

/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): one byte-exact serialization of a JSON value, so
 * that a hash or signature over it does not depend on key order or whitespace.
 *
 * Rules (RFC 8785 §3.2): no whitespace; object members sorted by their names compared as arrays of
 * UTF-16 code units (§3.2.3); numbers serialized as ECMAScript `Number.prototype.toString` does
 * (§3.2.2.3), so `-0` is `0` and `1e21` is `1e+21`; strings escaped as `JSON.stringify` does
 * (§3.2.2.2); literals `true`, `false`, `null`.
 *
 * The serialization is the `canonicalize` package's, by the RFC's author. Before it runs, the input
 * is checked strictly here, because `canonicalize` coerces as `JSON.stringify` does (drops
 * `undefined`, calls `toJSON`, reads getters, loops on a cycle): a value with no JSON form is an
 * error naming its JSON path, never silently dropped or turned into `null`.
 *
 * @see RFC 8785 (JSON Canonicalization Scheme), §3.2 (generation of canonical JSON).
 * @module
 */
import canonicalizeDefault from 'canonicalize'
import { stringToUtf8 } from './encoding.ts'
import { MalformedInputError } from './errors.ts'

// canonicalize 2.x is CommonJS (`module.exports = serialize`) while its .d.ts declares an ES default
// export, so under NodeNext TypeScript types the default import as the module object. At run time
// the default import is the function itself.
const canonicalize = canonicalizeDefault as unknown as (input: unknown) => string | undefined

/** Deepest nesting of arrays and objects accepted (the top-level value is depth 1). */
const MAX_DEPTH = 1000
/** Longest object key shown in an error's JSON path before it is shortened. */
const MAX_KEY_IN_PATH = 32

const IDENTIFIER = /^[A-Za-z_$][A-Za-z0-9_$]*$/
// A high surrogate not followed by a low one, or a low surrogate not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

type PathSegment = string | number

function renderPath(path: readonly PathSegment[]): string {
  let out = '$'
  for (const segment of path) {
    if (typeof segment === 'number') {
      out += `[${segment}]`
    } else if (IDENTIFIER.test(segment) && segment.length <= MAX_KEY_IN_PATH) {
      out += `.${segment}`
    } else {
      const shown =
        segment.length > MAX_KEY_IN_PATH ? `${segment.slice(0, MAX_KEY_IN_PATH)}…` : segment
      // JSON.stringify escapes quotes, control characters and lone surrogates.
      out += `[${JSON.stringify(shown)}]`
    }
  }
  return out
}

function jcsError(
  code: `ERR_JCS_${string}`,
  path: readonly PathSegment[],
  message: string,
  hint: string,
  extra: Readonly<Record<string, string | number>> = {},
): MalformedInputError {
  const where = renderPath(path)
  return new MalformedInputError(code, `cannot canonicalize JSON: ${message} at ${where}`, {
    details: { path: where, ...extra },
    hint,
  })
}

function checkWellFormed(text: string, path: readonly PathSegment[], what: string): void {
  const position = text.search(LONE_SURROGATE)
  if (position >= 0) {
    // RFC 8785 §3.2.2.2: strings must be valid Unicode; a lone surrogate has no UTF-8 encoding, so
    // two different strings would hash the same after U+FFFD replacement.
    throw jcsError(
      'ERR_JCS_LONE_SURROGATE',
      path,
      `${what} has a lone surrogate at UTF-16 position ${position}`,
      'strings must be well-formed Unicode; check how the text was decoded',
      { position },
    )
  }
}

function unsupported(walk: Walk, what: string): MalformedInputError {
  return jcsError(
    'ERR_JCS_UNSUPPORTED_VALUE',
    walk.path,
    `value is ${what}, which has no JSON form`,
    'remove the property or give it a JSON value (string, number, boolean, null, array, object)',
  )
}

function describeInstance(proto: object): string {
  const ctor: unknown = Object.getOwnPropertyDescriptor(proto, 'constructor')?.value
  return typeof ctor === 'function' && ctor.name !== ''
    ? `an instance of ${ctor.name}`
    : 'an object with a custom prototype'
}

interface Walk {
  readonly path: PathSegment[]
  /** Containers on the path from the root to the current value: a repeat is a cycle. */
  readonly ancestors: Set<object>
}

/** Read an own data property; accessors are refused so a getter cannot run or change the output. */
function readOwn(container: object, key: string, walk: Walk): unknown {
  const descriptor = Object.getOwnPropertyDescriptor(container, key)
  if (descriptor === undefined) {
    // Only a hole in a sparse array gets here: Object.keys lists own properties only.
    throw jcsError(
      'ERR_JCS_UNSUPPORTED_VALUE',
      walk.path,
      'array has a hole (a sparse array)',
      'fill the array: JSON has no missing elements',
    )
  }
  if (!('value' in descriptor)) {
    throw jcsError(
      'ERR_JCS_UNSUPPORTED_VALUE',
      walk.path,
      'value is an accessor property (getter/setter)',
      'pass plain data: copy the value into an ordinary property first',
    )
  }
  return descriptor.value
}

function check(value: unknown, walk: Walk): void {
  switch (typeof value) {
    case 'string':
      checkWellFormed(value, walk.path, 'string')
      return
    case 'number':
      if (!Number.isFinite(value)) {
        throw jcsError(
          'ERR_JCS_NUMBER_NOT_FINITE',
          walk.path,
          `number ${String(value)} is not finite`,
          'JSON has no NaN or Infinity: encode the value as a string or null',
        )
      }
      return
    case 'boolean':
      return
    case 'object':
      if (value !== null) checkContainer(value, walk)
      return
    case 'undefined':
      throw unsupported(walk, 'undefined')
    case 'function':
      throw unsupported(walk, 'a function')
    case 'symbol':
      throw unsupported(walk, 'a symbol')
    case 'bigint':
      throw jcsError(
        'ERR_JCS_UNSUPPORTED_VALUE',
        walk.path,
        'value is a bigint, which has no JSON form',
        'convert the bigint to a string (or to a number when it is a safe integer)',
      )
  }
}

function checkContainer(value: object, walk: Walk): void {
  if (walk.ancestors.has(value)) {
    throw jcsError(
      'ERR_JCS_CYCLE',
      walk.path,
      'value contains itself (a reference cycle)',
      'JSON is a tree: break the cycle before canonicalizing',
    )
  }
  if (walk.ancestors.size >= MAX_DEPTH) {
    // Recursion is bounded so deep input fails with a coded error, not a stack overflow.
    throw jcsError(
      'ERR_JCS_DEPTH',
      walk.path,
      `value is nested deeper than ${MAX_DEPTH} levels`,
      'flatten the structure',
      { maxDepth: MAX_DEPTH },
    )
  }
  walk.ancestors.add(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i += 1) {
      walk.path.push(i)
      check(readOwn(value, String(i), walk), walk)
      walk.path.pop()
    }
  } else {
    const proto: unknown = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null) {
      throw jcsError(
        'ERR_JCS_UNSUPPORTED_VALUE',
        walk.path,
        `value is ${describeInstance(proto as object)}, not a plain object or array`,
        'convert it to plain data first (e.g. a Date to its ISO string, a Uint8Array to hex or base64)',
      )
    }
    if (
      Object.getOwnPropertySymbols(value).some((s) =>
        Object.prototype.propertyIsEnumerable.call(value, s),
      )
    ) {
      throw jcsError(
        'ERR_JCS_UNSUPPORTED_VALUE',
        walk.path,
        'object has a symbol-keyed property, which has no JSON form',
        'remove the symbol-keyed property',
      )
    }
    // In the order canonicalize writes them, so the first fault reported is the first in the output.
    for (const key of Object.keys(value).sort()) {
      walk.path.push(key)
      checkWellFormed(key, walk.path, 'object key')
      check(readOwn(value, key, walk), walk)
      walk.path.pop()
    }
  }
  walk.ancestors.delete(value)
}

/**
 * Serialize a JSON value in the RFC 8785 canonical form.
 *
 * Accepts what `JSON.parse` produces: `null`, booleans, finite numbers, well-formed strings, arrays
 * and plain objects (prototype `Object.prototype` or `null`). The same object may appear more than
 * once (a DAG is fine); a cycle is not.
 *
 * @example
 * ```ts
 * canonicalizeJson({ b: [1e21, -0], a: 'é' }) // '{"a":"é","b":[1e+21,0]}'
 * ```
 *
 * @see RFC 8785 §3.2.
 * @throws {@link MalformedInputError}, `details.path` giving the JSON path (`$.a[0]`):
 * - `ERR_JCS_NUMBER_NOT_FINITE` for `NaN`, `Infinity`, `-Infinity`;
 * - `ERR_JCS_LONE_SURROGATE` for a string or object key with an unpaired UTF-16 surrogate;
 * - `ERR_JCS_UNSUPPORTED_VALUE` for `undefined`, functions, bigints, symbols, class instances
 *   (`Date`, `Map`, `Uint8Array`, boxed primitives, …), holes in arrays, getters and
 *   symbol-keyed properties;
 * - `ERR_JCS_CYCLE` for a value that contains itself;
 * - `ERR_JCS_DEPTH` for arrays and objects nested more than 1000 deep.
 */
export function canonicalizeJson(value: unknown): string {
  check(value, { path: [], ancestors: new Set() })
  const text = canonicalize(value)
  // Only undefined (refused above) has no output; a checked value always has one.
  if (text === undefined) throw unsupported({ path: [], ancestors: new Set() }, 'undefined')
  return text
}

/**
 * The UTF-8 bytes of {@link canonicalizeJson}: what to hash or sign (RFC 8785 §3.2.4).
 *
 * @example
 * ```ts
 * createHash('sha256').update(canonicalizeJsonToBytes(claims)).digest()
 * ```
 *
 * @see RFC 8785 §3.2.4 (UTF-8 generation).
 * @throws {@link MalformedInputError} as {@link canonicalizeJson}.
 */
export function canonicalizeJsonToBytes(value: unknown): Uint8Array {
  // The text is well-formed (lone surrogates were rejected), so the UTF-8 encoding is exact.
  return stringToUtf8(canonicalizeJson(value))
}

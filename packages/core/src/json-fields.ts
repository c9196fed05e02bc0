/**
 * The one checker for fields of JSON documents (Intel's collateral, PCS responses, evidence
 * JSON): each reader names the field by its path (`tcbInfo.tcbLevels[2].tcb.pcesvn`) in the
 * message and in `details.field`, and throws the one error shape with the code of the document
 * being read, so each caller keeps its own code.
 *
 * Readers check what they read and say nothing of fields they are not asked for: whether unknown
 * fields are refused is the caller's decision (Intel adds fields to its structures over time).
 *
 * @module
 */
import { hexToBytes, utf8ToString } from './encoding.ts'
import { MalformedInputError, type ErrorCode } from './errors.ts'
import { scanJsonKeys } from './json-key-scan.ts'

/** A JSON object as `JSON.parse` returns it. */
export type JsonObject = Readonly<Record<string, unknown>>

/** Which document is being read, for messages and the error code. */
export interface JsonDocument {
  /** Name of the document in messages, e.g. `"TCB info"`. */
  readonly name: string
  /** The code every error about this document carries. */
  readonly code: ErrorCode
  /** How to fix a malformed document. */
  readonly hint: string
}

/** A malformed-document error naming `path`. */
export function fieldError(doc: JsonDocument, path: string, problem: string): MalformedInputError {
  return new MalformedInputError(doc.code, `${doc.name}: ${path} ${problem}`, {
    details: { document: doc.name, field: path },
    hint: doc.hint,
  })
}

/**
 * Parse JSON text, refusing a key repeated in one object (which `JSON.parse` would resolve to the
 * last copy, where another reader may take the first) and mapping every refusal to the document's
 * code.
 */
export function parseJson(doc: JsonDocument, text: string, path: string): unknown {
  scanJsonKeys(text, {
    what: `${doc.name}: ${path}`,
    syntaxCode: doc.code,
    hints: { syntax: doc.hint, duplicateKey: doc.hint, tooDeep: doc.hint },
  })
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw new MalformedInputError(doc.code, `${doc.name}: ${path} is not valid JSON`, {
      cause,
      details: { document: doc.name, field: path, length: text.length },
      hint: doc.hint,
    })
  }
}

/** True for a plain JSON object (not an array, not null, not a class instance). */
export function isJsonObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** `value` as an object, or an error naming `path`. */
export function asObject(doc: JsonDocument, value: unknown, path: string): JsonObject {
  if (!isJsonObject(value)) throw fieldError(doc, path, `must be an object (${jsonKind(value)})`)
  return value
}

/** The own property `key` of `obj`, or `undefined` when absent. */
export function member(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined
}

function present(doc: JsonDocument, obj: JsonObject, key: string, path: string): unknown {
  const value = member(obj, key)
  if (value === undefined) throw fieldError(doc, `${path}.${key}`, 'is missing')
  return value
}

/** What a JSON value is, for messages: `null`, `an array`, `a string`, … */
export function jsonKind(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'number' && !Number.isFinite(value)) return 'a non-finite number'
  return `a ${typeof value}`
}

/** A required string member. */
export function stringField(doc: JsonDocument, obj: JsonObject, key: string, path: string): string {
  const value = present(doc, obj, key, path)
  if (typeof value !== 'string') {
    throw fieldError(doc, `${path}.${key}`, `must be a string (${jsonKind(value)})`)
  }
  return value
}

/** A required integer member in `[min, max]`. */
export function integerField(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
  min: number,
  max: number,
): number {
  const value = present(doc, obj, key, path)
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
    throw fieldError(
      doc,
      `${path}.${key}`,
      `must be an integer from ${min} to ${max} (${typeof value === 'number' ? String(value) : jsonKind(value)})`,
    )
  }
  return value
}

/** A required object member. */
export function objectField(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
): JsonObject {
  return asObject(doc, present(doc, obj, key, path), `${path}.${key}`)
}

/** A required array member. */
export function arrayField(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
): readonly unknown[] {
  const value = present(doc, obj, key, path)
  if (!Array.isArray(value)) {
    throw fieldError(doc, `${path}.${key}`, `must be an array (${jsonKind(value)})`)
  }
  return value as readonly unknown[]
}

/** A required non-empty array member. */
export function nonEmptyArrayField(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
): readonly unknown[] {
  const value = arrayField(doc, obj, key, path)
  if (value.length === 0) throw fieldError(doc, `${path}.${key}`, 'must not be empty')
  return value
}

const HEX = /^[0-9A-Fa-f]*$/

/** A required hex-string member of exactly `length` bytes (either case). */
export function hexField(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
  length: number,
): Uint8Array {
  const text = stringField(doc, obj, key, path)
  if (!HEX.test(text) || text.length !== length * 2) {
    throw fieldError(
      doc,
      `${path}.${key}`,
      `must be ${length * 2} hex digits (${length} bytes); it has ${text.length} characters${HEX.test(text) ? '' : ', not all hex'}`,
    )
  }
  return hexToBytes(text)
}

/**
 * `YYYY-MM-DDTHH:MM:SS[.fff]Z`, as Intel writes `issueDate`, `nextUpdate` and `tcbDate`
 * (ISO 8601 in UTC).
 */
const DATE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?Z$/

/** A required ISO 8601 UTC date-time member, checked against the calendar. */
export function dateField(doc: JsonDocument, obj: JsonObject, key: string, path: string): Date {
  const text = stringField(doc, obj, key, path)
  const m = DATE.exec(text)
  if (m !== null) {
    const [y, mo, d, h, mi, s] = m.slice(1, 7).map(Number) as [
      number,
      number,
      number,
      number,
      number,
      number,
    ]
    const ms = Number((m[7] ?? '0').padEnd(3, '0'))
    const date = new Date(Date.UTC(y, mo - 1, d, h, mi, s, ms))
    // Date.UTC rolls 2023-02-30 over to March; a real date survives the round trip unchanged.
    if (
      date.getUTCFullYear() === y &&
      date.getUTCMonth() === mo - 1 &&
      date.getUTCDate() === d &&
      date.getUTCHours() === h &&
      date.getUTCMinutes() === mi &&
      date.getUTCSeconds() === s
    ) {
      return date
    }
  }
  throw fieldError(
    doc,
    `${path}.${key}`,
    'must be an ISO 8601 UTC date-time such as 2023-06-18T08:42:58Z',
  )
}

/** An optional array of strings (`advisoryIDs`); absent means empty. */
export function optionalStringArray(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
): readonly string[] {
  if (member(obj, key) === undefined) return []
  const values = arrayField(doc, obj, key, path)
  return values.map((v, i) => {
    if (typeof v !== 'string') {
      throw fieldError(doc, `${path}.${key}[${i}]`, `must be a string (${jsonKind(v)})`)
    }
    return v
  })
}

/** A required string member that must be one of `allowed`. */
export function enumField<T extends string>(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
  allowed: readonly T[],
): T {
  const value = stringField(doc, obj, key, path)
  const found = allowed.find((a) => a === value)
  if (found === undefined) {
    throw fieldError(
      doc,
      `${path}.${key}`,
      `must be one of ${allowed.join(', ')} (got a ${value.length}-character string that is none of them)`,
    )
  }
  return found
}

/** True when the first byte after JSON whitespace is `{`: the input is meant as a JSON object. */
export function startsAsJsonObject(bytes: Uint8Array): boolean {
  const first = bytes.find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)
  return first === 0x7b /* { */
}

/**
 * Parse UTF-8 JSON (`field` names the input: `"evidence"`). Bytes that are not UTF-8 keep core's `ERR_UTF8_INVALID`; text that
 * is not JSON is refused with the caller's `code`. A repeated key is not refused here: this reads
 * evidence, whose every field the verifier checks against the hardware's signature, and the
 * key scan would add a third to the parse of an SEV-SNP report's thousands of numbers on every
 * `/attest`; documents whose fields are trusted as written go through {@link parseJson}.
 *
 * @throws {@link MalformedInputError} `ERR_UTF8_INVALID` or `code`.
 */
export function parseJsonBytes(bytes: Uint8Array, field: string, code: ErrorCode): unknown {
  const text = utf8ToString(bytes, { field: `${field} JSON` })
  try {
    return JSON.parse(text) as unknown
  } catch (cause) {
    throw new MalformedInputError(code, `the ${field} looks like JSON but does not parse`, {
      cause,
      details: { field, length: bytes.length },
    })
  }
}

/**
 * Typed readers over the strict JSON tree of a policy document: each names the JSON path of what
 * it refuses.
 *
 * @module
 * @internal
 */
import { MalformedInputError, base64ToBytes } from '@initguard/core'
import type { JsonNode } from './strict-json.ts'

export type Code = `ERR_IMAGE_POLICY_${string}`

export function fault(
  code: Code,
  message: string,
  field: string,
  hint: string,
  cause?: unknown,
): MalformedInputError {
  return new MalformedInputError(code, message, {
    hint,
    details: { field },
    ...(cause === undefined ? {} : { cause }),
  })
}

export function describe(node: JsonNode): string {
  switch (node.kind) {
    case 'object':
      return 'an object'
    case 'array':
      return 'an array'
    case 'string':
      return node.value.length <= 40
        ? JSON.stringify(node.value)
        : `a ${node.value.length}-character string`
    case 'number':
      return `a number (${node.value})`
    case 'boolean':
      return `a boolean (${String(node.value)})`
    case 'null':
      return 'null'
  }
}

export function child(path: string, key: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

export function asObject(node: JsonNode, field: string): ReadonlyMap<string, JsonNode> {
  if (node.kind !== 'object') {
    throw fault(
      'ERR_IMAGE_POLICY_TYPE',
      `${field} is ${describe(node)}, but it must be an object`,
      field,
      `write ${field} as {…}`,
    )
  }
  return node.members
}

export function asArray(node: JsonNode, field: string): readonly JsonNode[] {
  if (node.kind !== 'array') {
    throw fault(
      'ERR_IMAGE_POLICY_TYPE',
      `${field} is ${describe(node)}, but it must be an array`,
      field,
      `write ${field} as […]`,
    )
  }
  return node.items
}

export function asString(node: JsonNode, field: string): string {
  if (node.kind !== 'string') {
    throw fault(
      'ERR_IMAGE_POLICY_TYPE',
      `${field} is ${describe(node)}, but it must be a string`,
      field,
      `quote the value of ${field}`,
    )
  }
  return node.value
}

export function nonEmptyString(node: JsonNode, field: string): string {
  const value = asString(node, field)
  if (value === '') {
    throw fault(
      'ERR_IMAGE_POLICY_EMPTY_VALUE',
      `${field} is an empty string`,
      field,
      `give a value for ${field} or remove it`,
    )
  }
  return value
}

export function base64Field(node: JsonNode, field: string): Uint8Array {
  const text = asString(node, field)
  try {
    return base64ToBytes(text, { field, allowLineBreaks: true })
  } catch (cause) {
    throw fault(
      'ERR_IMAGE_POLICY_KEY_DATA',
      `${field} is not valid padded base64`,
      field,
      'encode the key with base64 -w0',
      cause,
    )
  }
}

/** Check that only `allowed` keys are present; returns the members. */
export function checkKeys(
  members: ReadonlyMap<string, JsonNode>,
  allowed: readonly string[],
  field: string,
): void {
  for (const key of members.keys()) {
    if (!allowed.includes(key)) {
      throw fault(
        'ERR_IMAGE_POLICY_UNKNOWN_FIELD',
        `unknown key ${JSON.stringify(key)} in ${field}`,
        child(field, key),
        `the keys allowed here are ${allowed.join(', ')}; containers/image rejects the whole file on any other`,
      )
    }
  }
}

export function required(
  members: ReadonlyMap<string, JsonNode>,
  key: string,
  field: string,
): JsonNode {
  const node = members.get(key)
  if (node === undefined) {
    throw fault(
      'ERR_IMAGE_POLICY_MISSING_FIELD',
      `${field} has no "${key}"`,
      child(field, key),
      `add "${key}" to ${field}`,
    )
  }
  return node
}

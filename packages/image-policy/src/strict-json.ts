/**
 * The strict JSON reader (core's: member order kept, a repeated key refused, nesting bounded) with
 * the image policy's codes and hints. containers/image refuses repeated keys too.
 *
 * @module
 */
import {
  parseStrictJson as parseStrict,
  type JsonNode,
  type StrictJsonOptions,
} from '@initguard/core'

export { jsonNodeValue, MAX_JSON_DEPTH, type JsonNode } from '@initguard/core'

const CODES: Omit<StrictJsonOptions, 'what'> = {
  syntaxCode: 'ERR_IMAGE_POLICY_JSON',
  duplicateKeyCode: 'ERR_IMAGE_POLICY_DUPLICATE_KEY',
  tooDeepCode: 'ERR_IMAGE_POLICY_TOO_DEEP',
  hints: {
    syntax: 'check the file with a JSON validator (jq . file)',
    tooDeep: 'a policy never needs this much nesting',
  },
}

/**
 * Parse `text` as one JSON value.
 *
 * @param what - names the document in error messages.
 * @throws {@link MalformedInputError} `ERR_IMAGE_POLICY_JSON` (with `offset`),
 *   `ERR_IMAGE_POLICY_DUPLICATE_KEY` (with `field`), `ERR_IMAGE_POLICY_TOO_DEEP`.
 */
export function parseStrictJson(text: string, what: string): JsonNode {
  return parseStrict(text, { what, ...CODES })
}

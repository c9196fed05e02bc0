/**
 * The body of a Rekor log entry as containers/image accepts it: `hashedrekord` v0.0.1 only
 * (`signature/internal/rekor_api_types.go`; not `rekord`, not `intoto`).
 *
 * ```text
 * {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
 *    "data": {"hash": {"algorithm": "sha256", "value": "<hex SHA-256 of the payload>"}},
 *    "signature": {"content": "<base64 signature>",
 *                  "publicKey": {"content": "<base64 of a PEM key or certificate>"}}}}
 * ```
 *
 * Unknown members are ignored, as Go's `encoding/json` ignores them; duplicate keys are refused
 * (Go keeps the last one). Also shared here: the error helpers of `rekor-set.ts`.
 *
 * @module
 */
import { VerificationError, base64ToBytes, isInitguardError, utf8ToString } from '@initguard/core'
import { parseStrictJson, type JsonNode } from './strict-json.ts'
import { readPemBlock } from './sigstore-pem.ts'

/** A JSON object's members. */
export type Members = ReadonlyMap<string, JsonNode>

/**
 * A Rekor verification failure.
 *
 * @internal shared with `rekor-set.ts`.
 */
export function fail(
  code: `ERR_REKOR_${string}`,
  message: string,
  hint: string,
  details: Readonly<Record<string, string | number>> = {},
  cause?: unknown,
): VerificationError {
  return new VerificationError(code, `Rekor SET: ${message}`, {
    details,
    hint,
    ...(cause === undefined ? {} : { cause }),
  })
}

/** Builds a refusal from a message, a field and a cause. */
export type RekorRefusal = (message: string, field: string, cause?: unknown) => VerificationError

function bodyMalformed(message: string, field: string, cause?: unknown): VerificationError {
  return fail(
    'ERR_REKOR_BODY_MALFORMED',
    message,
    'the Rekor entry body is not a valid hashedrekord entry',
    { field },
    cause,
  )
}

/**
 * Decode a base64 member (Go's `[]byte` in JSON: standard alphabet, CR and LF skipped).
 *
 * @internal
 */
export function base64Member(
  node: JsonNode | undefined,
  field: string,
  error: (message: string, field: string, cause?: unknown) => VerificationError,
): Uint8Array {
  if (node?.kind !== 'string') throw error(`${field} is not a base64 string`, field)
  try {
    // Go decodes []byte fields with base64.StdEncoding, which skips CR and LF.
    return base64ToBytes(node.value, { field, allowLineBreaks: true })
  } catch (cause) {
    throw error(`${field} is not valid base64`, field, cause)
  }
}

/**
 * Parse strict JSON, turning a syntax error into `error`'s refusal.
 *
 * @internal
 */
export function parseJson(text: string, what: string, error: RekorRefusal): JsonNode {
  try {
    return parseStrictJson(text, what)
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    throw error(`${what} is not strict JSON (${cause.message})`, what, cause)
  }
}

function objectAt(node: JsonNode | undefined, field: string): Members {
  if (node?.kind !== 'object') throw bodyMalformed(`${field} is missing or not an object`, field)
  return node.members
}

function stringAt(node: JsonNode | undefined, field: string): string {
  if (node?.kind !== 'string') throw bodyMalformed(`${field} is missing or not a string`, field)
  return node.value
}

/** The parts of a hashedrekord v0.0.1 body that are checked. */
export interface HashedRekord {
  readonly hashHex: string
  readonly signature: Uint8Array
  readonly keyOrCertificate: Uint8Array
}

/**
 * Parse a Rekor entry body; it must be hashedrekord 0.0.1 with a sha256 payload hash.
 *
 * @throws {@link VerificationError} `ERR_REKOR_BODY_MALFORMED`, `ERR_REKOR_BODY_UNSUPPORTED`.
 */
export function parseHashedRekordBody(body: Uint8Array): HashedRekord {
  let text: string
  try {
    text = utf8ToString(body, { field: 'Rekor entry body' })
  } catch (cause) {
    throw bodyMalformed('the body is not UTF-8', 'body', cause)
  }
  const root = objectAt(parseJson(text, 'Rekor entry body', bodyMalformed), 'body')
  const kind = stringAt(root.get('kind'), 'kind')
  const apiVersion = stringAt(root.get('apiVersion'), 'apiVersion')
  if (kind !== 'hashedrekord' || apiVersion !== '0.0.1') {
    throw fail(
      'ERR_REKOR_BODY_UNSUPPORTED',
      `entry kind "${kind.slice(0, 32)}" version "${apiVersion.slice(0, 16)}" is not hashedrekord 0.0.1`,
      'containers/image accepts only hashedrekord 0.0.1 entries, which cosign sign writes',
      { kind: kind.slice(0, 32), apiVersion: apiVersion.slice(0, 16) },
    )
  }
  const spec = objectAt(root.get('spec'), 'spec')
  const hash = objectAt(objectAt(spec.get('data'), 'spec.data').get('hash'), 'spec.data.hash')
  const algorithm = stringAt(hash.get('algorithm'), 'spec.data.hash.algorithm')
  if (algorithm !== 'sha256') {
    throw fail(
      'ERR_REKOR_BODY_UNSUPPORTED',
      `payload hash algorithm "${algorithm.slice(0, 16)}" is not sha256`,
      'containers/image (and cosign) only use SHA-256 payload hashes',
      { algorithm: algorithm.slice(0, 16) },
    )
  }
  const signatureNode = objectAt(spec.get('signature'), 'spec.signature')
  const keyNode = objectAt(signatureNode.get('publicKey'), 'spec.signature.publicKey')
  const pemBytes = base64Member(
    keyNode.get('content'),
    'spec.signature.publicKey.content',
    bodyMalformed,
  )
  const pemText = new TextDecoder('utf-8', { fatal: false }).decode(pemBytes)
  const field = 'spec.signature.publicKey.content'
  let block
  try {
    block = readPemBlock(pemText, 0, field, 'ERR_REKOR_BODY_MALFORMED')
  } catch (cause) {
    throw bodyMalformed(`${field} is not PEM`, field, cause)
  }
  if (block === undefined) throw bodyMalformed(`${field} is not PEM`, field)
  if (block.end !== pemText.length)
    throw bodyMalformed(`${field} has data after its PEM block`, field)
  return {
    hashHex: stringAt(hash.get('value'), 'spec.data.hash.value'),
    signature: base64Member(signatureNode.get('content'), 'spec.signature.content', bodyMalformed),
    keyOrCertificate: block.der,
  }
}

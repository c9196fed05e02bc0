/**
 * The signed payload of a container image signature, shared by simple signing
 * (containers-signature(5), type `atomic container signature`) and sigstore/cosign (type
 * `cosign container image signature`). Parsed only after the signature over these exact bytes
 * has verified, and as strictly as containers/image does (`signature/simple.go`,
 * `signature/internal/sigstore_payload.go`):
 *
 * ```json
 * {"critical": {"identity": {"docker-reference": "host/repo:tag"},
 *               "image": {"docker-manifest-digest": "sha256:…"},
 *               "type": "atomic container signature"},
 *  "optional": {"creator": "…", "timestamp": 1700000000}}
 * ```
 *
 * Both top-level members are required and nothing else may be there; `critical` and its two
 * objects hold exactly the members shown (an unknown critical member means the signer asked for
 * a check we do not know, so the signature must not be trusted). `optional` is lenient: unknown
 * members are ignored, `creator` must be a string and `timestamp` a whole number in int64 range,
 * read as Go reads it, through a float64 (`1e3` is 1000). Cosign writes `"optional": null`, which
 * containers/image accepts for sigstore payloads only.
 *
 * @module
 */
import { InternalError, VerificationError, utf8ToString } from '@initguard/core'
import { parseStrictJson, type JsonNode } from './strict-json.ts'

/** The payload types containers/image knows. */
export type SignaturePayloadType = 'atomic container signature' | 'cosign container image signature'

/** The verified claims of a signature payload. */
export interface SignaturePayload {
  readonly type: SignaturePayloadType
  /** `critical.identity.docker-reference`: the reference the signer signed for. */
  readonly dockerReference: string
  /** `critical.image.docker-manifest-digest`: the manifest digest the signer signed. */
  readonly manifestDigest: string
  /** `optional.creator`, when present. */
  readonly creator: string | undefined
  /** `optional.timestamp` (seconds since the epoch), when present. */
  readonly timestamp: number | undefined
}

/** The largest payload we parse: 4 MiB, containers/image's limit (real ones are a few hundred bytes). */
export const MAX_SIGNATURE_PAYLOAD_BYTES: number = 4 * 1024 * 1024

// The float64 range that converts to Go's int64 exactly: [-2^63, 2^63).
const INT64_MIN = -(2 ** 63)
const INT64_LIMIT = 2 ** 63

function invalid(message: string, field: string, hint: string, cause?: unknown): VerificationError {
  return new VerificationError('ERR_SIGNATURE_PAYLOAD_INVALID', message, {
    hint,
    details: { field },
    ...(cause === undefined ? {} : { cause }),
  })
}

function exactObject(
  node: JsonNode,
  field: string,
  members: readonly string[],
): ReadonlyMap<string, JsonNode> {
  if (node.kind !== 'object') {
    throw invalid(
      `${field} is not a JSON object`,
      field,
      'the payload was not written by a container signing tool',
    )
  }
  for (const key of node.members.keys()) {
    if (!members.includes(key)) {
      throw invalid(
        `${field} has the unknown member ${JSON.stringify(key.slice(0, 64))}`,
        `${field}.${key}`,
        'an unknown critical member asks for a check this verifier does not know; such signatures are refused',
      )
    }
  }
  for (const key of members) {
    if (!node.members.has(key)) {
      throw invalid(
        `${field} lacks the member "${key}"`,
        `${field}.${key}`,
        'the payload is incomplete',
      )
    }
  }
  return node.members
}

// exactObject has checked the member is there; this only narrows the type.
function member(members: ReadonlyMap<string, JsonNode>, key: string): JsonNode {
  const node = members.get(key)
  if (node === undefined) throw new InternalError('ERR_INTERNAL', `member ${key} vanished`)
  return node
}

function stringMember(members: ReadonlyMap<string, JsonNode>, key: string, field: string): string {
  const node = members.get(key)
  if (node?.kind !== 'string') {
    throw invalid(`${field}.${key} is not a string`, `${field}.${key}`, 'the payload is malformed')
  }
  return node.value
}

function parseOptional(
  node: JsonNode,
  allowNull: boolean,
): { creator: string | undefined; timestamp: number | undefined } {
  if (node.kind === 'null' && allowNull) return { creator: undefined, timestamp: undefined }
  if (node.kind !== 'object') {
    throw invalid('optional is not a JSON object', 'optional', 'the payload is malformed')
  }
  let creator: string | undefined
  let timestamp: number | undefined
  const creatorNode = node.members.get('creator')
  if (creatorNode !== undefined) {
    if (creatorNode.kind !== 'string') {
      throw invalid(
        'optional.creator is not a string',
        'optional.creator',
        'the payload is malformed',
      )
    }
    creator = creatorNode.value
  }
  const timestampNode = node.members.get('timestamp')
  if (timestampNode !== undefined) {
    // containers/image decodes the number into a float64 and keeps it when int64(f) == f: so
    // 1e3 and 1000.0 are integers, and 2^63 - 1 (which rounds to 2^63) is not.
    const value = timestampNode.kind === 'number' ? Number(timestampNode.text) : Number.NaN
    if (!Number.isInteger(value) || value < INT64_MIN || value >= INT64_LIMIT) {
      throw invalid(
        'optional.timestamp is not an integer that fits a 64-bit integer',
        'optional.timestamp',
        'the payload is malformed',
      )
    }
    timestamp = value
  }
  return { creator, timestamp }
}

/**
 * Parse a verified signature payload.
 *
 * @param bytes - the payload exactly as the signature covered it.
 * @param expectedType - the type the signature format implies; any other type is refused.
 * @throws {@link VerificationError} `ERR_SIGNATURE_PAYLOAD_INVALID` (with `details.field`) or
 *   `ERR_SIGNATURE_PAYLOAD_TYPE`.
 * @example
 * ```ts
 * const payload = parseSignaturePayload(verified.payloadBytes, 'atomic container signature')
 * payload.manifestDigest // "sha256:…"
 * ```
 */
export function parseSignaturePayload(
  bytes: Uint8Array,
  expectedType: SignaturePayloadType,
): SignaturePayload {
  if (bytes.length > MAX_SIGNATURE_PAYLOAD_BYTES) {
    throw invalid(
      `the payload is ${bytes.length} bytes, more than the ${MAX_SIGNATURE_PAYLOAD_BYTES} allowed`,
      'payload',
      'signature payloads are a few hundred bytes; this is not one',
    )
  }
  let root: JsonNode
  try {
    root = parseStrictJson(
      utf8ToString(bytes, { field: 'signature payload' }),
      'the signature payload',
    )
  } catch (cause) {
    throw invalid(
      'the payload is not strict JSON (UTF-8, no duplicate keys)',
      'payload',
      'the payload is malformed',
      cause,
    )
  }
  const top = exactObject(root, 'payload', ['critical', 'optional'])
  const critical = exactObject(member(top, 'critical'), 'critical', ['type', 'image', 'identity'])
  const type = stringMember(critical, 'type', 'critical')
  if (type !== expectedType) {
    throw new VerificationError(
      'ERR_SIGNATURE_PAYLOAD_TYPE',
      `the payload type is ${JSON.stringify(type.slice(0, 64))}, not "${expectedType}"`,
      {
        hint: 'a signature of one format cannot stand in for the other',
        details: { field: 'critical.type', expected: expectedType, actual: type.slice(0, 64) },
      },
    )
  }
  const image = exactObject(member(critical, 'image'), 'critical.image', ['docker-manifest-digest'])
  const identity = exactObject(member(critical, 'identity'), 'critical.identity', [
    'docker-reference',
  ])
  const optional = parseOptional(
    member(top, 'optional'),
    expectedType === 'cosign container image signature',
  )
  return {
    type: expectedType,
    dockerReference: stringMember(identity, 'docker-reference', 'critical.identity'),
    manifestDigest: stringMember(image, 'docker-manifest-digest', 'critical.image'),
    ...optional,
  }
}

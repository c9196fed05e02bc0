/**
 * The Rekor signed entry timestamp (SET) that cosign attaches to a signature as the
 * `dev.sigstore.cosign/bundle` annotation, verified as containers/image does
 * (`signature/internal/rekor_set.go` `VerifyRekorSET`).
 *
 * ```text
 * {"SignedEntryTimestamp": "<base64 ECDSA signature (DER) by the Rekor key>",
 *  "Payload": {"body": "<base64 of the entry body>", "integratedTime": <Unix seconds>,
 *              "logIndex": <int>, "logID": "<hex SHA-256 of the Rekor key's SPKI DER>"}}
 *
 * SET = ECDSA-Sign(rekorKey, SHA-256(JCS(Payload)))     (RFC 8785 canonical JSON)
 *
 * body = {"apiVersion": "0.0.1", "kind": "hashedrekord", "spec": {
 *           "data": {"hash": {"algorithm": "sha256", "value": "<hex SHA-256 of the payload>"}},
 *           "signature": {"content": "<base64 signature>",
 *                         "publicKey": {"content": "<base64 of a PEM key or certificate>"}}}}
 * ```
 *
 * Steps: the bundle is strict JSON with exactly those two members, and `Payload` exactly those
 * four (like containers/image); one of the trusted Rekor keys must verify the SET over the
 * canonical `Payload`; `logID` must name that key (a check containers/image leaves out, cosign
 * does it); the body must be `hashedrekord` 0.0.1 (the only kind containers/image accepts: not
 * `rekord`, not `intoto`) naming the same signature bytes, the same key or certificate (DER
 * compared, PEM label ignored) and the SHA-256 of the payload. Unknown members inside the body are
 * ignored, as Go's `encoding/json` ignores them. Also refused, beyond containers/image: an
 * `integratedTime` more than {@link REKOR_CLOCK_SKEW_SECONDS} after `now`.
 *
 * @see containers/image `signature/internal/rekor_set.go`; Rekor `hashedrekord` v0.0.1 schema.
 * @module
 */
import { createHash, verify } from 'node:crypto'
import {
  type VerificationError,
  bytesToHex,
  canonicalizeJsonToBytes,
  constantTimeEqual,
  hexToBytes,
} from '@initguard/core'
import { base64Member, fail, parseHashedRekordBody, parseJson, type Members } from './rekor-body.ts'
import { CLOCK_SKEW_SECONDS } from './clock-skew.ts'
import { jsonNodeValue, type JsonNode } from './strict-json.ts'
import type { SigstorePublicKey } from './sigstore-public-key.ts'

/** How far in the future (after `now`) a Rekor `integratedTime` may lie: clock skew. */
export const REKOR_CLOCK_SKEW_SECONDS: number = CLOCK_SKEW_SECONDS

/** What a verified SET says. */
export interface VerifiedRekorSet {
  /** When Rekor logged the entry (`integratedTime`, whole seconds). */
  readonly integratedTime: Date
  /** The entry's index in the log. */
  readonly logIndex: number
  /** The log ID, lower-case hex. */
  readonly logId: string
  /** Which trusted Rekor key signed it. */
  readonly rekorKey: SigstorePublicKey
  /** Index in the candidate list of the key or certificate the body names. */
  readonly matchedCandidate: number
}

/** What {@link verifyRekorSet} checks the SET against. */
export interface RekorSetInput {
  /** The `dev.sigstore.cosign/bundle` annotation text. */
  readonly bundle: string
  /** The trusted Rekor keys (ECDSA). */
  readonly rekorPublicKeys: readonly SigstorePublicKey[]
  /** The decoded signature the body must name. */
  readonly signature: Uint8Array
  /** The payload whose SHA-256 the body must name. */
  readonly payload: Uint8Array
  /** DERs of the acceptable signing keys (SPKI) or certificate; the body must name one. */
  readonly keyOrCertificateCandidates: readonly Uint8Array[]
  /** The current time, for the future-timestamp check. */
  readonly now: Date
}

const MALFORMED_HINT =
  'the dev.sigstore.cosign/bundle annotation is damaged or not a cosign Rekor bundle; sign again with cosign (--tlog-upload)'

function malformed(message: string, field: string, cause?: unknown): VerificationError {
  return fail('ERR_REKOR_SET_MALFORMED', message, MALFORMED_HINT, { field }, cause)
}

function exactMembers(
  node: JsonNode | undefined,
  names: readonly string[],
  field: string,
): Members {
  if (node?.kind !== 'object') throw malformed(`${field} is not a JSON object`, field)
  for (const key of node.members.keys()) {
    if (!names.includes(key))
      throw malformed(`${field} has unknown member "${key.slice(0, 64)}"`, field)
  }
  for (const name of names) {
    if (!node.members.has(name)) throw malformed(`${field} has no "${name}"`, field)
  }
  return node.members
}

function integerMember(node: JsonNode | undefined, field: string): number {
  if (node?.kind !== 'number' || !Number.isSafeInteger(node.value)) {
    throw malformed(`${field} is not an integer`, field)
  }
  return node.value
}

/**
 * Verify a cosign Rekor bundle against trusted Rekor keys, and check that its entry names exactly
 * this signature, key or certificate, and payload.
 *
 * @returns the integrated time and log position, the Rekor key that signed, and which candidate
 *   key or certificate the entry names.
 * @throws {@link VerificationError} `ERR_REKOR_SET_MALFORMED`, `ERR_REKOR_SET_SIGNATURE_INVALID`,
 *   `ERR_REKOR_LOG_ID_MISMATCH`, `ERR_REKOR_INTEGRATED_TIME_FUTURE`, `ERR_REKOR_BODY_MALFORMED`,
 *   `ERR_REKOR_BODY_UNSUPPORTED`, `ERR_REKOR_KEY_MISMATCH`, `ERR_REKOR_SIGNATURE_MISMATCH`,
 *   `ERR_REKOR_PAYLOAD_MISMATCH`.
 */
export function verifyRekorSet(input: RekorSetInput): VerifiedRekorSet {
  // == The bundle: strict JSON, exact members (containers/image ParanoidUnmarshalJSONObjectExactFields)
  const set = exactMembers(
    parseJson(input.bundle, 'Rekor bundle', malformed),
    ['SignedEntryTimestamp', 'Payload'],
    'bundle',
  )
  const setSignature = base64Member(
    set.get('SignedEntryTimestamp'),
    'SignedEntryTimestamp',
    malformed,
  )
  const payloadNode = set.get('Payload')
  const payload = exactMembers(
    payloadNode,
    ['body', 'integratedTime', 'logIndex', 'logID'],
    'Payload',
  )

  // == The SET signature over the canonical Payload, by one of the trusted Rekor keys
  let canonical: Uint8Array
  try {
    canonical = canonicalizeJsonToBytes(jsonNodeValue(payloadNode ?? { kind: 'null' }))
  } catch (cause) {
    throw malformed('Payload cannot be canonicalized', 'Payload', cause)
  }
  const rekorKey = input.rekorPublicKeys.find((key) => {
    try {
      return verify('sha256', canonical, key.key, setSignature)
    } catch {
      return false
    }
  })
  if (rekorKey === undefined) {
    throw fail(
      'ERR_REKOR_SET_SIGNATURE_INVALID',
      `no trusted Rekor key (of ${input.rekorPublicKeys.length}) verifies the signed entry timestamp`,
      'check that the policy names the Rekor public key of the log the signature was uploaded to (rekor.pub); otherwise the bundle was altered',
      { rekorKeys: input.rekorPublicKeys.length },
    )
  }

  // == Fields of the now-authenticated Payload
  const logIdNode = payload.get('logID')
  if (logIdNode?.kind !== 'string') throw malformed('logID is not a string', 'logID')
  const expectedLogId = createHash('sha256').update(rekorKey.spki).digest()
  let logIdBytes: Uint8Array | undefined
  try {
    logIdBytes = hexToBytes(logIdNode.value, { field: 'logID' })
  } catch {
    logIdBytes = undefined
  }
  if (logIdBytes === undefined || !constantTimeEqual(logIdBytes, expectedLogId)) {
    // The SET is signed, so this is the log itself contradicting its key: refuse rather than
    // trust an entry that claims to come from another log.
    throw fail(
      'ERR_REKOR_LOG_ID_MISMATCH',
      'logID is not the SHA-256 of the Rekor key that signed the entry',
      'the entry claims to come from another Rekor log; check which Rekor key the policy trusts',
      { expected: bytesToHex(expectedLogId), logIdLength: logIdNode.value.length },
    )
  }
  const integratedSeconds = integerMember(payload.get('integratedTime'), 'integratedTime')
  const logIndex = integerMember(payload.get('logIndex'), 'logIndex')
  if (Math.abs(integratedSeconds) > 8.64e12)
    throw malformed('integratedTime is out of range', 'integratedTime')
  const integratedTime = new Date(integratedSeconds * 1000)
  if (integratedSeconds > input.now.getTime() / 1000 + REKOR_CLOCK_SKEW_SECONDS) {
    throw fail(
      'ERR_REKOR_INTEGRATED_TIME_FUTURE',
      `integratedTime ${integratedTime.toISOString()} is more than ${REKOR_CLOCK_SKEW_SECONDS} s after the current time ${input.now.toISOString()}`,
      'check the verifier clock; a log entry cannot come from the future',
      { integratedTime: integratedSeconds },
    )
  }

  // == The body names this signature, key or certificate, and payload
  const body = parseHashedRekordBody(base64Member(payload.get('body'), 'body', malformed))
  const matchedCandidate = input.keyOrCertificateCandidates.findIndex((der) =>
    constantTimeEqual(der, body.keyOrCertificate),
  )
  if (matchedCandidate < 0) {
    throw fail(
      'ERR_REKOR_KEY_MISMATCH',
      'the log entry names another public key or certificate than the one the signature is verified with',
      'the bundle belongs to a signature made with another key; sign again, or trust the key that was logged',
    )
  }
  if (!constantTimeEqual(body.signature, input.signature)) {
    throw fail(
      'ERR_REKOR_SIGNATURE_MISMATCH',
      'the log entry names another signature than the dev.cosignproject.cosign/signature annotation',
      'the bundle was copied from another signature; sign again with cosign',
    )
  }
  const payloadHash = createHash('sha256').update(input.payload).digest('hex')
  if (body.hashHex.toLowerCase() !== payloadHash) {
    throw fail(
      'ERR_REKOR_PAYLOAD_MISMATCH',
      'the log entry names another payload hash than the SHA-256 of the signed payload',
      'the payload was changed after it was logged; sign again',
    )
  }
  return { integratedTime, logIndex, logId: bytesToHex(expectedLogId), rekorKey, matchedCandidate }
}

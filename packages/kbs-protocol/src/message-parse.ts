/**
 * Strict parsers for the RCAR 0.4.0 messages ({@link KbsRequest} … {@link KbsErrorBody}). Each
 * takes a value `JSON.parse` made and returns the typed message, its members in the input's order
 * (so `JSON.stringify` of the result gives back the same JSON), or throws a
 * {@link MalformedInputError} naming the JSON path from `$`:
 *
 * - `ERR_KBS_MESSAGE_INVALID`: a missing, mistyped, unknown or malformed member;
 * - `ERR_KBS_PROTOCOL_VERSION`: a `version` other than exactly `0.4.0`;
 * - `ERR_KBS_TEE_UNSUPPORTED`: a `kbs_types` TEE name this project does not verify;
 * - `ERR_KBS_TEE_KEY_UNSUPPORTED`: a TEE key of a refused kind ({@link parseTeePublicJwk}).
 *
 * Unknown members. Trustee's serde ignores them everywhere. Here they are refused wherever they
 * could change what is bound or decrypted (`runtime-data`, `tee-pubkey`, `init-data`,
 * `tee-evidence`, the JWE, the challenge and the token), and ignored, and dropped from the result,
 * only at the top level of the request, the attestation and the error body: a client on a newer
 * kbs-types release may add an optional member there and still work with Trustee, and refusing it
 * would make this the one KBS that breaks such a client, while a dropped member is never hashed,
 * bound or used, so ignoring it gives nothing away.
 *
 * @module
 */
import { MalformedInputError, asObject, jsonKind, member } from '@initguard/core'
import {
  KBS_PROTOCOL_VERSION,
  KBS_SUPPORTED_TEES,
  KBS_TYPES_TEE_NAMES,
  type KbsAttestation,
  type KbsAttestationToken,
  type KbsChallenge,
  type KbsErrorBody,
  type KbsInitData,
  type KbsRequest,
  type KbsResourceJwe,
  type KbsRuntimeData,
  type KbsTee,
  type KbsTeeEvidence,
} from './messages.ts'
import {
  KBS_MESSAGE,
  inSourceOrder,
  messageBase64url,
  messageError,
  messageObject,
  messageString,
} from './message-fields.ts'
import { parseTeePublicJwk } from './tee-public-jwk.ts'

/** Longest nonce accepted (Trustee's is 44 characters). */
const MAX_NONCE = 1024
/** Longest JWT or JWE member accepted as text (the HTTP body limit bounds the rest). */
const MAX_TOKEN = 1 << 20

function teeName(value: unknown, path: string): KbsTee {
  if (typeof value !== 'string') throw messageError(path, `must be a string (${jsonKind(value)})`)
  const supported = KBS_SUPPORTED_TEES.find((tee) => tee === value)
  if (supported !== undefined) return supported
  const verifies = KBS_SUPPORTED_TEES.join(', ')
  if (KBS_TYPES_TEE_NAMES.includes(value))
    throw new MalformedInputError(
      'ERR_KBS_TEE_UNSUPPORTED',
      `KBS message: ${path} is ${value}, a TEE this KBS does not verify (it verifies ${verifies})`,
      { details: { field: path, tee: value }, hint: `attest on one of ${verifies}` },
    )
  throw messageError(path, `is not a kbs_types TEE name (this KBS verifies ${verifies})`)
}

/** `POST /kbs/v0/auth` body: `{version, tee, extra-params}`. */
export function parseKbsRequest(value: unknown): KbsRequest {
  const obj = messageObject(value, '$', { required: ['version', 'tee', 'extra-params'] }, 'ignore')
  const version = member(obj, 'version')
  if (version !== KBS_PROTOCOL_VERSION)
    throw new MalformedInputError(
      'ERR_KBS_PROTOCOL_VERSION',
      `KBS message: $.version is ${typeof version === 'string' ? JSON.stringify(version.slice(0, 32)) : jsonKind(version)}; this KBS speaks RCAR protocol version ${KBS_PROTOCOL_VERSION} only`,
      {
        details: { field: '$.version', supported: KBS_PROTOCOL_VERSION },
        hint: `use a client that speaks KBS protocol ${KBS_PROTOCOL_VERSION} (guest-components' kbs_protocol does)`,
      },
    )
  const tee = teeName(member(obj, 'tee'), '$.tee')
  return inSourceOrder<KbsRequest>(obj, {
    version,
    tee,
    'extra-params': member(obj, 'extra-params'),
  })
}

/**
 * `/auth` response: `{nonce, "extra-params": ""}`. A non-empty `extra-params` (SE's
 * `selected-hash-algorithm`) is refused: this protocol binds with SHA-384 only.
 */
export function parseKbsChallenge(value: unknown): KbsChallenge {
  const obj = messageObject(value, '$', { required: ['nonce', 'extra-params'] }, 'refuse')
  const nonce = messageString(obj, 'nonce', '$', { maxLength: MAX_NONCE })
  const extra = member(obj, 'extra-params')
  if (extra !== '')
    throw messageError(
      '$.extra-params',
      `must be the empty string (${jsonKind(extra)}): REPORT_DATA is bound with SHA-384 only`,
    )
  return inSourceOrder<KbsChallenge>(obj, { nonce, 'extra-params': extra })
}

function initData(value: unknown, path: string): KbsInitData {
  const obj = messageObject(value, path, { required: ['format', 'body'] }, 'refuse')
  const format = messageString(obj, 'format', path, { maxLength: 32 })
  if (format !== 'toml')
    throw messageError(
      `${path}.format`,
      `is ${JSON.stringify(format)}; init-data must be TOML (format "toml"), as Trustee requires`,
    )
  const body = messageString(obj, 'body', path, { maxLength: Number.MAX_SAFE_INTEGER })
  return inSourceOrder<KbsInitData>(obj, { format, body })
}

function runtimeData(value: unknown, path: string): KbsRuntimeData {
  const obj = messageObject(value, path, { required: ['nonce', 'tee-pubkey'] }, 'refuse')
  const nonce = messageString(obj, 'nonce', path, { maxLength: MAX_NONCE })
  const key = parseTeePublicJwk(member(obj, 'tee-pubkey'), `${path}.tee-pubkey`)
  return inSourceOrder<KbsRuntimeData>(obj, { nonce, 'tee-pubkey': key })
}

function teeEvidence(value: unknown, path: string): KbsTeeEvidence {
  const required = ['primary_evidence', 'additional_evidence']
  const obj = messageObject(value, path, { required }, 'refuse')
  // The TEE's evidence JSON: an object for every TEE this project verifies.
  const primary = asObject(KBS_MESSAGE, member(obj, 'primary_evidence'), `${path}.primary_evidence`)
  const additional = messageString(obj, 'additional_evidence', path, {
    maxLength: Number.MAX_SAFE_INTEGER,
    allowEmpty: true,
  })
  return inSourceOrder<KbsTeeEvidence>(obj, {
    primary_evidence: primary,
    additional_evidence: additional,
  })
}

/**
 * `POST /kbs/v0/attest` body. `init-data` may be absent or `null` (serde's `None`); both mean
 * "not sent" and the result has no `init-data` member.
 */
export function parseKbsAttestation(value: unknown): KbsAttestation {
  const obj = messageObject(
    value,
    '$',
    { required: ['runtime-data', 'tee-evidence'], optional: ['init-data'] },
    'ignore',
  )
  const sentInitData = member(obj, 'init-data')
  return inSourceOrder<KbsAttestation>(obj, {
    'init-data':
      sentInitData === undefined || sentInitData === null
        ? undefined
        : initData(sentInitData, '$.init-data'),
    'runtime-data': runtimeData(member(obj, 'runtime-data'), '$.runtime-data'),
    'tee-evidence': teeEvidence(member(obj, 'tee-evidence'), '$.tee-evidence'),
  })
}

const JWS_COMPACT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/

/** `/attest` response: `{token}`, a compact JWS (its signature is the verifier's business). */
export function parseKbsAttestationToken(value: unknown): KbsAttestationToken {
  const obj = messageObject(value, '$', { required: ['token'] }, 'refuse')
  const token = messageString(obj, 'token', '$', { maxLength: MAX_TOKEN })
  if (!JWS_COMPACT.test(token))
    throw messageError('$.token', 'must be a compact JWS (three base64url parts joined by dots)')
  return inSourceOrder<KbsAttestationToken>(obj, { token })
}

/**
 * `GET /kbs/v0/resource/…` response: a flattened JWE with exactly `protected`, `encrypted_key`,
 * `iv` (12 bytes), `ciphertext` and `tag` (16 bytes). An `aad` or unprotected header is refused:
 * Trustee never sends one, and the decryptor would have to honour it.
 */
export function parseKbsResourceJwe(value: unknown): KbsResourceJwe {
  const required = ['protected', 'encrypted_key', 'iv', 'ciphertext', 'tag']
  const obj = messageObject(value, '$', { required }, 'refuse')
  const text = (key: string, length?: number): string =>
    messageBase64url(obj, key, '$', {
      maxLength: MAX_TOKEN * 16,
      ...(length === undefined ? {} : { length }),
    }).text
  return inSourceOrder<KbsResourceJwe>(obj, {
    protected: text('protected'),
    encrypted_key: text('encrypted_key'),
    iv: text('iv', 12),
    ciphertext: member(obj, 'ciphertext') === '' ? '' : text('ciphertext'),
    tag: text('tag', 16),
  })
}

/** Error body `{type, detail}`; other members (an RFC 9457 `title`, `status`) are dropped. */
export function parseKbsErrorBody(value: unknown): KbsErrorBody {
  const obj = messageObject(value, '$', { required: ['type', 'detail'] }, 'ignore')
  return inSourceOrder<KbsErrorBody>(obj, {
    type: messageString(obj, 'type', '$', { maxLength: 1024 }),
    detail: messageString(obj, 'detail', '$', { maxLength: 64 * 1024, allowEmpty: true }),
  })
}

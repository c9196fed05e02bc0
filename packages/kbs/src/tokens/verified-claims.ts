/**
 * Reading a verified token's claims back into a {@link VerifiedToken}: every claim the KBS relies
 * on must be present and well typed, and the token must say "affirming".
 *
 * @module
 */
import {
  VerificationError,
  asObject,
  enumField,
  integerField,
  isInitguardError,
  member,
  objectField,
  stringField,
} from '@initguard/core'
import type { JsonDocument, JsonObject } from '@initguard/core'
import type { TeePublicJwk } from '@initguard/kbs-protocol'
import type { VerifiedToken } from '../ports.ts'
import { EAR_PROFILE, TOKEN_TEES, appraisalPolicyId } from './ear-claims.ts'

const TOKEN: JsonDocument = {
  name: 'attestation token',
  code: 'ERR_KBS_TOKEN_CLAIMS',
  hint: 'attest again to get a token from this KBS',
}

/**
 * The facts of a token whose signature, issuer and expiry were already checked.
 *
 * @throws {@link VerificationError} `ERR_KBS_TOKEN_CLAIMS` for a missing or mistyped claim,
 *   `ERR_KBS_TOKEN_STATUS` unless `ear.status` is `affirming`.
 */
export function readVerifiedClaims(payload: unknown): VerifiedToken {
  try {
    return readClaims(asObject(TOKEN, payload, 'claims'))
  } catch (error) {
    if (isInitguardError(error) && error.category !== 'verification') {
      throw new VerificationError('ERR_KBS_TOKEN_CLAIMS', error.message, {
        cause: error,
        hint: TOKEN.hint,
      })
    }
    throw error
  }
}

function readClaims(claims: JsonObject): VerifiedToken {
  enumField(TOKEN, claims, 'eat_profile', 'claims', [EAR_PROFILE])
  const exp = integerField(TOKEN, claims, 'exp', 'claims', 0, Number.MAX_SAFE_INTEGER)
  integerField(TOKEN, claims, 'iat', 'claims', 0, exp)
  const cpu0 = objectField(
    TOKEN,
    objectField(TOKEN, claims, 'submods', 'claims'),
    'cpu0',
    'claims.submods',
  )
  const status = stringField(TOKEN, cpu0, 'ear.status', 'cpu0')
  if (status !== 'affirming') {
    throw new VerificationError(
      'ERR_KBS_TOKEN_STATUS',
      `the token's ear.status is ${JSON.stringify(status.slice(0, 40))}, not affirming`,
      {
        hint: TOKEN.hint,
      },
    )
  }
  const annotated = objectField(TOKEN, cpu0, 'ear.veraison.annotated-evidence', 'cpu0')
  const runtime = objectField(TOKEN, annotated, 'runtime_data_claims', 'annotated-evidence')
  const teePubkey = readTeePublicJwk(
    objectField(TOKEN, runtime, 'tee-pubkey', 'runtime_data_claims'),
  )
  const ours = objectField(TOKEN, claims, 'initguard', 'claims')
  const workload = objectField(TOKEN, ours, 'workload', 'initguard')
  const name = stringField(TOKEN, workload, 'name', 'initguard.workload')
  const version = integerField(
    TOKEN,
    workload,
    'version',
    'initguard.workload',
    1,
    Number.MAX_SAFE_INTEGER,
  )
  const policyId = stringField(TOKEN, cpu0, 'ear.appraisal-policy-id', 'cpu0')
  if (policyId !== appraisalPolicyId({ name, version })) {
    throw new VerificationError('ERR_KBS_TOKEN_CLAIMS', 'the token names two different workloads', {
      hint: TOKEN.hint,
    })
  }
  const simulated = member(ours, 'simulated')
  if (typeof simulated !== 'boolean') {
    throw new VerificationError(
      'ERR_KBS_TOKEN_CLAIMS',
      'attestation token: initguard.simulated must be a boolean',
      {
        hint: TOKEN.hint,
      },
    )
  }
  const session = stringField(TOKEN, claims, 'jti', 'claims')
  if (!SESSION_ID.test(session)) {
    throw new VerificationError(
      'ERR_KBS_TOKEN_CLAIMS',
      'attestation token: jti is not an RCAR session id (32 lowercase hex digits)',
      { hint: TOKEN.hint },
    )
  }
  return {
    workload: name,
    workloadVersion: version,
    tee: enumField(TOKEN, ours, 'tee', 'initguard', TOKEN_TEES),
    teePubkey,
    simulated,
    expiresAt: new Date(exp * 1000),
    session,
  }
}

/** An RCAR session's id as `rcar-challenge.ts` writes it: 16 random bytes in hex. */
const SESSION_ID = /^[0-9a-f]{32}$/

const BASE64URL = /^[A-Za-z0-9_-]+$/

/** The TEE key as the token carries it: only the shapes the resource JWE accepts. */
function readTeePublicJwk(jwk: JsonObject): TeePublicJwk {
  const path = 'runtime_data_claims.tee-pubkey'
  const b64 = (key: string): string => {
    const value = stringField(TOKEN, jwk, key, path)
    if (!BASE64URL.test(value))
      throw new VerificationError(
        'ERR_KBS_TOKEN_CLAIMS',
        `attestation token: ${path}.${key} is not base64url`,
      )
    return value
  }
  const kty = enumField(TOKEN, jwk, 'kty', path, ['EC', 'RSA'])
  if (kty === 'EC') {
    return {
      kty,
      crv: enumField(TOKEN, jwk, 'crv', path, ['P-256', 'P-384', 'P-521']),
      alg: enumField(TOKEN, jwk, 'alg', path, ['ECDH-ES+A256KW']),
      x: b64('x'),
      y: b64('y'),
    }
  }
  return {
    kty,
    alg: enumField(TOKEN, jwk, 'alg', path, ['RSA-OAEP-256']),
    n: b64('n'),
    e: b64('e'),
  }
}

/**
 * Verifying the KBS's own attestation tokens (compact JWS, RFC 7515 §7.1, ES256) with
 * `node:crypto` on a cached `KeyObject`, synchronously.
 *
 * Every `GET /resource` verifies a token, and jose's WebCrypto path (an asynchronous job, a
 * `CryptoKey`, copies of every part) cost about five times the 60 µs of the ECDSA verify itself.
 * The checks are jose's `jwtVerify` with `algorithms: ['ES256']`, `typ: 'JWT'`, `issuer`,
 * `requiredClaims: ['iat', 'exp', 'iss']` and no clock tolerance, in jose's order, and a test
 * cross-checks both on mutated tokens. Where this is stricter it refuses what the KBS never issues:
 * non-canonical or padded base64url, and any `crit` or `b64` header (jose would honour `b64`).
 *
 * ```text
 * token  = b64url(header) "." b64url(claims) "." b64url(r ‖ s)   (64 bytes, P-256)
 * header = {"alg":"ES256","typ":"JWT","kid":"<thumbprint>"}
 * ```
 *
 * @module
 */
import { verify, type KeyObject } from 'node:crypto'
import { VerificationError, base64urlToBytes } from '@initguard/core'

/** A compact JWS split and its protected header parsed (not yet verified). */
export interface CompactJws {
  readonly header: Readonly<Record<string, unknown>>
  readonly signingInput: string
  readonly payload: string
  readonly signature: string
}

const NON_ASCII = /[^\p{ASCII}]/u
const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** A JSON object from base64url text, or `undefined` when it is not one. */
function jsonObjectOf(text: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(strictUtf8.decode(base64urlToBytes(text)))
    return typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined
  } catch {
    return undefined
  }
}

/** Something that should have been a token error, with the hint every one carries. */
export function tokenError(
  code: `ERR_KBS_TOKEN_${string}`,
  message: string,
  cause?: unknown,
): VerificationError {
  return new VerificationError(code, message, {
    cause,
    hint: 'attest again (POST /kbs/v0/auth, then /kbs/v0/attest) for a fresh token',
  })
}

const notVerified = (code: `ERR_KBS_TOKEN_${string}`, what: string): VerificationError =>
  tokenError(code, `the token does not verify: ${what}`)

/**
 * Split a compact JWS and parse its protected header.
 *
 * @throws {@link VerificationError} `ERR_KBS_TOKEN_MALFORMED` unless it is three base64url parts
 *   with a JSON object header.
 */
export function splitCompactJws(token: string): CompactJws {
  const parts = token.split('.')
  const [encodedHeader, payload, signature] = parts
  const header =
    parts.length === 3 && encodedHeader !== undefined ? jsonObjectOf(encodedHeader) : undefined
  if (header === undefined || payload === undefined || signature === undefined)
    throw tokenError('ERR_KBS_TOKEN_MALFORMED', 'the token is not a compact JWS')
  return { header, signingInput: `${encodedHeader}.${payload}`, payload, signature }
}

/** jose's `typ` comparison: case-insensitive, `application/` implied. */
const normalizedTyp = (typ: string): string =>
  typ.includes('/') ? typ.toLowerCase() : `application/${typ.toLowerCase()}`

/**
 * Verify an ES256 JWT split by {@link splitCompactJws} with `key` at `now` and return its claims
 * (a JSON object; what they mean is the caller's to check).
 *
 * @throws {@link VerificationError} `ERR_KBS_TOKEN_ALGORITHM` (not ES256), `…_MALFORMED`,
 *   `…_SIGNATURE`, `…_CLAIMS` (typ, missing iat/exp, mistyped iat/nbf/exp, nbf in the future),
 *   `…_ISSUER` (missing or other `iss`), `…_EXPIRED` (`exp` ≤ now, in whole seconds).
 */
export function verifyEs256Jwt(
  jws: CompactJws,
  key: KeyObject,
  expected: { readonly issuer: string; readonly now: Date },
): Record<string, unknown> {
  const { header } = jws
  if (header['alg'] !== 'ES256')
    throw notVerified('ERR_KBS_TOKEN_ALGORITHM', '"alg" (Algorithm) Header Parameter not allowed')
  if (Object.hasOwn(header, 'crit') || Object.hasOwn(header, 'b64'))
    throw notVerified('ERR_KBS_TOKEN_MALFORMED', 'this KBS issues no "crit" or "b64" header')
  if (NON_ASCII.test(jws.payload))
    throw notVerified('ERR_KBS_TOKEN_MALFORMED', 'the payload is not a base64url string')
  let signature: Uint8Array
  try {
    signature = base64urlToBytes(jws.signature)
  } catch {
    throw notVerified('ERR_KBS_TOKEN_MALFORMED', 'the signature is not base64url')
  }
  let valid: boolean
  try {
    valid = verify(
      'sha256',
      Buffer.from(jws.signingInput, 'latin1'),
      { key, dsaEncoding: 'ieee-p1363' },
      signature,
    )
  } catch {
    valid = false
  }
  if (!valid) throw notVerified('ERR_KBS_TOKEN_SIGNATURE', 'signature verification failed')
  const claims = jsonObjectOf(jws.payload)
  if (claims === undefined)
    throw notVerified('ERR_KBS_TOKEN_MALFORMED', 'the claims are not a JSON object')
  const typ = header['typ']
  if (typeof typ !== 'string' || normalizedTyp(typ) !== 'application/jwt')
    throw notVerified('ERR_KBS_TOKEN_CLAIMS', 'unexpected "typ" JWT header value')
  for (const claim of ['iss', 'exp', 'iat'])
    if (!Object.hasOwn(claims, claim))
      throw notVerified(
        claim === 'iss' ? 'ERR_KBS_TOKEN_ISSUER' : 'ERR_KBS_TOKEN_CLAIMS',
        `missing required "${claim}" claim`,
      )
  if (claims['iss'] !== expected.issuer)
    throw notVerified('ERR_KBS_TOKEN_ISSUER', 'unexpected "iss" claim value')
  const now = Math.floor(expected.now.getTime() / 1000)
  const { iat, nbf, exp } = claims
  if (typeof iat !== 'number')
    throw notVerified('ERR_KBS_TOKEN_CLAIMS', '"iat" claim must be a number')
  if (nbf !== undefined && typeof nbf !== 'number')
    throw notVerified('ERR_KBS_TOKEN_CLAIMS', '"nbf" claim must be a number')
  if (nbf !== undefined && nbf > now)
    throw notVerified('ERR_KBS_TOKEN_CLAIMS', '"nbf" claim timestamp check failed')
  if (typeof exp !== 'number')
    throw notVerified('ERR_KBS_TOKEN_CLAIMS', '"exp" claim must be a number')
  if (exp <= now) throw notVerified('ERR_KBS_TOKEN_EXPIRED', '"exp" claim timestamp check failed')
  return claims
}

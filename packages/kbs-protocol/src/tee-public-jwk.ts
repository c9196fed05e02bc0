/**
 * The TEE public key of `runtime-data."tee-pubkey"`, checked strictly: it is hashed into
 * REPORT_DATA (so what is bound must be exactly what is used) and every secret is wrapped to it.
 *
 * ```text
 * EC:  {"kty":"EC","crv":"P-256|P-384|P-521","alg":"ECDH-ES+A256KW","x":b64url,"y":b64url}
 *      x and y exactly 32 / 48 / 66 bytes, and (x, y) a point on the curve
 * RSA: {"kty":"RSA","alg":"RSA-OAEP-256","n":b64url,"e":"AQAB"}
 *      n from 2048 to 8192 bits, no leading zero octet, odd; e = 65537
 * ```
 *
 * Members other than these are refused, not ignored: a `d` would be a private key sent in the
 * clear, and any extra member would change the JCS bytes bound into the report without changing
 * the key used, so two "same" keys could bind differently. `RSA1_5` (which Trustee still accepts)
 * is refused: PKCS #1 v1.5 encryption is open to padding-oracle attacks (Bleichenbacher).
 *
 * @module
 */
import { createPublicKey, type KeyObject } from 'node:crypto'
import { LruCache, MalformedInputError, member } from '@initguard/core'
import type { EcTeePublicJwk, RsaTeePublicJwk, TeePublicJwk } from './messages.ts'
import {
  inSourceOrder,
  messageBase64url,
  messageError,
  messageObject,
  messageString,
} from './message-fields.ts'

/** Coordinate length in bytes per curve (an ephemeral key's too). */
export const EC_COORDINATE_BYTES: Readonly<Record<EcTeePublicJwk['crv'], number>> = {
  'P-256': 32,
  'P-384': 48,
  'P-521': 66,
}

/** The smallest RSA modulus accepted (NIST SP 800-57: 2048 bits through 2030). */
export const RSA_MIN_MODULUS_BITS = 2048
/** The largest: every resource release costs one RSA operation with it on the server. */
export const RSA_MAX_MODULUS_BITS = 8192

const EC_ALG = 'ECDH-ES+A256KW'
const RSA_ALG = 'RSA-OAEP-256'

function unsupported(path: string, problem: string, hint: string): MalformedInputError {
  return new MalformedInputError('ERR_KBS_TEE_KEY_UNSUPPORTED', `KBS message: ${path} ${problem}`, {
    details: { field: path },
    hint,
  })
}

const KEY_HINT =
  'use an EC key (P-256, P-384 or P-521) with ECDH-ES+A256KW, or an RSA key of at least 2048 bits with RSA-OAEP-256 and e = 65537'

/**
 * Keys imported recently, by their exact members: the KBS checks a TEE key at `/attest` and again
 * when it seals the resource to it, and the import (with its point check) is most of the check's
 * cost. Only keys that imported are kept; the members are the whole key, so a hit is the same key.
 */
const recentlyImported = new LruCache<string, KeyObject>(1024)

function imported(members: string, importKey: () => KeyObject): KeyObject {
  return recentlyImported.getOrSet(members, importKey)
}

/** The cache key of an EC key's members. */
const ecMembers = (crv: string, x: string, y: string): string =>
  `EC\u0000${crv}\u0000${x}\u0000${y}`

/**
 * Remember the public half of a key pair this process has just made (`generateTeeKeyPair`) as
 * what its point imports as: the import of `privateKey` from `jwk` (`generateEcKeyPair`) already
 * validated exactly this point, so the check of its public JWK that follows, and the one of the
 * attestation that carries it, find the key here instead of importing and validating the same
 * point again (a scalar multiplication each). Not exported from the package.
 */
export function rememberOwnEcKey(pair: {
  readonly jwk: { readonly crv: EcTeePublicJwk['crv']; readonly x: string; readonly y: string }
  readonly privateKey: KeyObject
}): void {
  const { crv, x, y } = pair.jwk
  recentlyImported.set(ecMembers(crv, x, y), createPublicKey(pair.privateKey))
}

function ecKey(value: unknown, path: string): CheckedTeeKey<EcTeePublicJwk> {
  const obj = messageObject(value, path, { required: ['kty', 'crv', 'alg', 'x', 'y'] }, 'refuse')
  const crv = messageString(obj, 'crv', path, { maxLength: 16 })
  if (!Object.hasOwn(EC_COORDINATE_BYTES, crv))
    throw unsupported(
      `${path}.crv`,
      `is ${JSON.stringify(crv)}, not P-256, P-384 or P-521`,
      KEY_HINT,
    )
  const curve = crv as EcTeePublicJwk['crv']
  const length = EC_COORDINATE_BYTES[curve]
  const alg = messageString(obj, 'alg', path, { maxLength: 32 })
  if (alg !== EC_ALG)
    throw unsupported(
      `${path}.alg`,
      `is ${JSON.stringify(alg)}; an EC key must be for ${EC_ALG}`,
      KEY_HINT,
    )
  const x = messageBase64url(obj, 'x', path, { maxLength: 100, length })
  const y = messageBase64url(obj, 'y', path, { maxLength: 100, length })
  let key: KeyObject
  try {
    key = imported(ecMembers(crv, x.text, y.text), () =>
      createPublicKey({ key: { kty: 'EC', crv, x: x.text, y: y.text }, format: 'jwk' }),
    )
  } catch {
    throw messageError(path, `is not a point on ${crv}`)
  }
  const jwk = inSourceOrder<EcTeePublicJwk>(obj, {
    kty: 'EC',
    crv: curve,
    alg,
    x: x.text,
    y: y.text,
  })
  return { jwk, key }
}

function rsaKey(value: unknown, path: string): CheckedTeeKey<RsaTeePublicJwk> {
  const obj = messageObject(value, path, { required: ['kty', 'alg', 'n', 'e'] }, 'refuse')
  const alg = messageString(obj, 'alg', path, { maxLength: 32 })
  if (alg === 'RSA1_5')
    throw unsupported(
      `${path}.alg`,
      'is RSA1_5, which is refused: PKCS #1 v1.5 encryption is open to padding-oracle attacks',
      'generate the TEE key for RSA-OAEP-256 (or use an EC key with ECDH-ES+A256KW)',
    )
  if (alg !== RSA_ALG)
    throw unsupported(
      `${path}.alg`,
      `is ${JSON.stringify(alg)}; an RSA key must be for ${RSA_ALG}`,
      KEY_HINT,
    )
  const n = messageBase64url(obj, 'n', path, { maxLength: 2000 })
  const e = messageString(obj, 'e', path, { maxLength: 16 })
  if (e !== 'AQAB') throw unsupported(`${path}.e`, 'must be AQAB (65537)', KEY_HINT)
  const first = n.bytes[0] ?? 0
  if (first === 0)
    throw messageError(`${path}.n`, 'must not start with a zero octet (RFC 7518 §6.3.1.1)')
  const bits = (n.bytes.length - 1) * 8 + (32 - Math.clz32(first))
  if (bits < RSA_MIN_MODULUS_BITS || bits > RSA_MAX_MODULUS_BITS)
    throw unsupported(
      `${path}.n`,
      `has ${bits} bits; the modulus must have from ${RSA_MIN_MODULUS_BITS} to ${RSA_MAX_MODULUS_BITS}`,
      KEY_HINT,
    )
  if (((n.bytes.at(-1) ?? 0) & 1) === 0)
    throw messageError(`${path}.n`, 'is even, so not an RSA modulus')
  let key: KeyObject
  try {
    key = imported(`RSA\u0000${n.text}\u0000${e}`, () =>
      createPublicKey({ key: { kty: 'RSA', n: n.text, e }, format: 'jwk' }),
    )
  } catch {
    throw messageError(path, 'is not an RSA public key')
  }
  return { jwk: inSourceOrder<RsaTeePublicJwk>(obj, { kty: 'RSA', alg, n: n.text, e }), key }
}

/** A checked TEE key: the JWK with its members in their order, and the key it imports as. */
export interface CheckedTeeKey<Jwk extends TeePublicJwk = TeePublicJwk> {
  readonly jwk: Jwk
  /** The public key, imported once by the check (which must import it to know it is one). */
  readonly key: KeyObject
}

/**
 * Check a TEE public JWK as {@link parseTeePublicJwk} does, and return it with its imported key.
 *
 * @throws as {@link parseTeePublicJwk}.
 */
export function checkTeePublicJwk(
  value: unknown,
  path = '$.runtime-data.tee-pubkey',
): CheckedTeeKey {
  const obj = messageObject(value, path, { required: ['kty'] }, 'ignore')
  const kty = messageString(obj, 'kty', path, { maxLength: 16 })
  if (kty === 'EC') return ecKey(obj, path)
  if (kty === 'RSA') return rsaKey(obj, path)
  const alg = member(obj, 'alg')
  throw unsupported(
    `${path}.kty`,
    `is ${JSON.stringify(kty)}${typeof alg === 'string' ? ` (alg ${JSON.stringify(alg)})` : ''}; only EC and RSA keys are supported`,
    KEY_HINT,
  )
}

/**
 * Check a TEE public JWK (see the module comment) and return it with its members in their order.
 *
 * @param path - The JSON path for messages; default `$.runtime-data.tee-pubkey`.
 * @throws {@link MalformedInputError} `ERR_KBS_MESSAGE_INVALID` (malformed, naming the path) or
 *   `ERR_KBS_TEE_KEY_UNSUPPORTED` (a well-formed key of a kind, size or algorithm refused).
 */
export function parseTeePublicJwk(
  value: unknown,
  path = '$.runtime-data.tee-pubkey',
): TeePublicJwk {
  return checkTeePublicJwk(value, path).jwk
}

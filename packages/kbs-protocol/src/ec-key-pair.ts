/**
 * EC key pairs and ECDH made with `createECDH`, their JWKs read from the raw point: never
 * `generateKeyPair(Sync)` followed by `export({ format: 'jwk' })`.
 *
 * Why: on Node 20 (seen on 20.20.2) exporting a JWK from a key that `generateKeyPairSync` made can
 * deadlock the process for good. The export holds the key's mutex while it allocates the JWK's
 * strings; when one of those allocations starts a garbage collection that frees the (already
 * unreachable) key-generation job, the job's destructor takes the same mutex, and the main thread
 * waits on itself. A loop of generate-and-export hangs within a minute; the replicas benchmark's
 * guests hung so within one run. A key made here is never tied to a
 * generation job: `createECDH` makes the pair and `createPrivateKey` imports it.
 *
 * ```text
 * uncompressed point (ECDH.getPublicKey): 0x04 || x || y, x and y each 32 / 48 / 66 bytes
 * JWK: {"kty":"EC","crv":"P-256|P-384|P-521","x":b64url,"y":b64url,"d":b64url}, each the full
 *      coordinate length (RFC 7518 §6.2.2.1: d has the length of the curve order, padded)
 * ```
 *
 * @module
 */
import { createECDH, createPrivateKey, type ECDH, type KeyObject } from 'node:crypto'
import { InternalError } from '@initguard/core'
import { EC_COORDINATE_BYTES } from './tee-public-jwk.ts'

/** The JOSE names of the curves. */
export type EcKeyCurve = keyof typeof EC_COORDINATE_BYTES

/** OpenSSL's name of each curve, for `createECDH`. */
const OPENSSL_CURVE: Readonly<Record<EcKeyCurve, string>> = {
  'P-256': 'prime256v1',
  'P-384': 'secp384r1',
  'P-521': 'secp521r1',
}

/** A private EC key as a JWK, each member of its full length. */
export interface EcPrivateJwk {
  readonly kty: 'EC'
  readonly crv: EcKeyCurve
  readonly x: string
  readonly y: string
  readonly d: string
}

/**
 * A fresh EC key pair: the private key imported (not tied to a key-generation job) and as a JWK.
 * The public key is `createPublicKey(privateKey)` where one is needed.
 */
export interface EcKeyPair {
  readonly privateKey: KeyObject
  readonly jwk: EcPrivateJwk
}

/** `bytes` left-padded with zeros to `length` (OpenSSL drops a private scalar's leading zeros). */
function padded(bytes: Buffer, length: number): Buffer {
  if (bytes.length === length) return bytes
  if (bytes.length > length)
    throw new InternalError('ERR_KBS_EC_KEY', `an EC scalar of ${String(bytes.length)} bytes`)
  return Buffer.concat([Buffer.alloc(length - bytes.length), bytes])
}

/** The coordinates of an uncompressed point on `curve`, base64url. */
function coordinates(point: Buffer, curve: EcKeyCurve): { x: string; y: string } {
  const length = EC_COORDINATE_BYTES[curve]
  if (point.length !== 1 + 2 * length || point[0] !== 0x04)
    throw new InternalError('ERR_KBS_EC_KEY', `an EC point of ${String(point.length)} bytes`)
  return {
    x: point.subarray(1, 1 + length).toString('base64url'),
    y: point.subarray(1 + length).toString('base64url'),
  }
}

/**
 * The `ECDH` object each P-256 private key of {@link generateEcKeyPair} was made with, so that
 * opening a resource JWE derives with it from the peer's raw point instead of importing the point
 * as a key (the import validates the point with a scalar multiplication by the order; see
 * {@link keptEcdh}). Weak: an entry lives as long as its key. Never handed out of the package.
 */
const madeWith = new WeakMap<KeyObject, ECDH>()

/**
 * The curves whose `ECDH` object is kept. Only P-256: measured on Node 20.20.2 (OpenSSL 3.0), CPU
 * per derivation, `computeSecret` about 0.11 ms against 0.20 ms for importing the peer's point and
 * `diffieHellman`; on P-384 and P-521 `computeSecret` is the slower (2.4 against 1.9 ms, 5.2
 * against 4.5 ms), so those keep the KeyObject path.
 */
const KEEP_ECDH: ReadonlySet<EcKeyCurve> = new Set(['P-256'])

/** A fresh key pair on `curve` (see the module's note for why not `generateKeyPairSync`). */
export function generateEcKeyPair(curve: EcKeyCurve): EcKeyPair {
  const ecdh = createECDH(OPENSSL_CURVE[curve])
  const { x, y } = coordinates(ecdh.generateKeys(), curve)
  const d = padded(ecdh.getPrivateKey(), EC_COORDINATE_BYTES[curve]).toString('base64url')
  const jwk: EcPrivateJwk = { kty: 'EC', crv: curve, x, y, d }
  const privateKey = createPrivateKey({ key: { ...jwk }, format: 'jwk' })
  if (KEEP_ECDH.has(curve)) madeWith.set(privateKey, ecdh)
  return { privateKey, jwk }
}

/**
 * The `ECDH` object holding the same private key as `privateKey`, when {@link generateEcKeyPair}
 * made it on P-256; `undefined` for any other key (another curve, imported, or made elsewhere),
 * which then takes the KeyObject path. For the package's own use only: the object is mutable (`setPrivateKey`), so it
 * is never exported from the package.
 *
 * `ecdh.computeSecret(0x04 ‖ x ‖ y)` refuses (Node's `ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY`) a
 * point whose coordinates are not below the field prime or that is not on the curve (OpenSSL's
 * `EC_POINT_oct2point`); the tests prove both, and a point of another curve. P-256 has cofactor 1
 * (its group has prime order), so every point of the curve but the point at infinity, which an
 * uncompressed encoding cannot name, has the full order: that is the whole public-key validation
 * the KeyObject import did with its extra scalar multiplication (by the order).
 */
export function keptEcdh(privateKey: KeyObject): ECDH | undefined {
  return madeWith.get(privateKey)
}

/** What an ephemeral-static ECDH gave: the ephemeral public point and the shared secret. */
export interface EphemeralAgreement {
  readonly x: string
  readonly y: string
  /** The x coordinate of the shared point, of the full coordinate length (`Z` of RFC 7518). */
  readonly sharedSecret: Buffer
}

/**
 * ECDH between a fresh ephemeral key and the peer's public point `(x, y)` (base64url, each of the
 * full coordinate length: a checked TEE key). No key object is made for the ephemeral key.
 *
 * @throws `ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY` (Node's) when `(x, y)` is not on `curve`.
 */
export function ephemeralAgreement(
  curve: EcKeyCurve,
  peer: { readonly x: string; readonly y: string },
): EphemeralAgreement {
  const ecdh = createECDH(OPENSSL_CURVE[curve])
  const { x, y } = coordinates(ecdh.generateKeys(), curve)
  const peerPoint = Buffer.concat([
    Buffer.of(0x04),
    Buffer.from(peer.x, 'base64url'),
    Buffer.from(peer.y, 'base64url'),
  ])
  return { x, y, sharedSecret: ecdh.computeSecret(peerPoint) }
}

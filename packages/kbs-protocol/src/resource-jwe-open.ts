/**
 * Opening a resource response (the guest's side of `resource-jwe.ts`) with `node:crypto` alone,
 * checked as strictly as jose's `flattenedDecrypt` checks it, and then some:
 *
 * ```text
 * protected    base64url of a UTF-8 JSON object; "alg" = the TEE key's algorithm, "enc" = A256GCM;
 *              no "zip"; no "crit" (this client implements no extension); other members ignored
 *              (RFC 7516 §4)
 * ECDH-ES+A256KW  "epk" = exactly {kty:"EC", crv = the TEE key's curve, x, y} (coordinates of the
 *              curve's length, a point on it); optional "apu"/"apv" base64url → PartyU/VInfo;
 *              KEK = Concat-KDF(SHA-256, ECDH(TEE key, epk)); CEK = AES-KW unwrap (RFC 3394 IV)
 * RSA-OAEP-256 CEK = RSA-OAEP(SHA-256, MGF1-SHA-256) decrypt with the TEE key (≥ 2048 bits)
 * content      CEK of 32 bytes, 12-byte IV, 16-byte tag, AES-256-GCM, AAD = ASCII(protected)
 * ```
 *
 * jose's WebCrypto path spent about 2 ms of CPU per response in a dozen asynchronous jobs; these
 * synchronous primitives need about a tenth of that. Every failure is one
 * `ERR_KBS_RESOURCE_DECRYPT` whose `reason` detail uses jose's codes (`ERR_JWE_INVALID`,
 * `ERR_JOSE_ALG_NOT_ALLOWED`, `ERR_JOSE_NOT_SUPPORTED`, `ERR_JWE_DECRYPTION_FAILED`), so logs read
 * as before; a failed key unwrap and a failed content decryption are the same
 * `ERR_JWE_DECRYPTION_FAILED`, so a response cannot tell them apart.
 *
 * @module
 */
import {
  constants,
  createDecipheriv,
  createPublicKey,
  diffieHellman,
  privateDecrypt,
  type KeyObject,
} from 'node:crypto'
import {
  VerificationError,
  base64urlToBytes,
  isInitguardError,
  isJsonObject,
  parseStrictJsonValue,
  utf8ToString,
  type JsonObject,
} from '@initguard/core'
import { keptEcdh } from './ec-key-pair.ts'
import type { EcTeePublicJwk } from './messages.ts'
import { parseKbsResourceJwe } from './message-parse.ts'
import { AES_KW_IV, RESOURCE_JWE_ENC, ecdhEsA256kwKek } from './resource-jwe.ts'
import { EC_COORDINATE_BYTES, RSA_MIN_MODULUS_BITS } from './tee-public-jwk.ts'

type Curve = EcTeePublicJwk['crv']
type KeyManagement = 'ECDH-ES+A256KW' | 'RSA-OAEP-256'

/** The JWK curve name of each OpenSSL curve a TEE key may be on. */
const JWK_CURVES: Readonly<Record<string, Curve>> = {
  prime256v1: 'P-256',
  secp384r1: 'P-384',
  secp521r1: 'P-521',
}

/** What a TEE private key opens: its algorithm and, for EC, its curve. */
type TeeKeyUse =
  { readonly alg: 'ECDH-ES+A256KW'; readonly crv: Curve } | { readonly alg: 'RSA-OAEP-256' }

/** A JWE that does not open; `reason` is the detail's code (see the module comment). */
class Unopened extends Error {
  readonly reason: string
  constructor(reason: string, message: string) {
    super(message)
    this.reason = reason
  }
}

/** The SEC 1 prefix of an uncompressed point (`0x04 ‖ x ‖ y`). */
const UNCOMPRESSED = Buffer.of(0x04)

const invalid = (message: string): Unopened => new Unopened('ERR_JWE_INVALID', message)
const decryptionFailed = (): Unopened =>
  new Unopened('ERR_JWE_DECRYPTION_FAILED', 'decryption operation failed')

/** @throws TypeError for a key that is not a TEE private key (a caller's mistake, not input). */
function useOf(privateKey: KeyObject): TeeKeyUse {
  if (privateKey.type !== 'private')
    throw new TypeError('openResource needs the TEE private key, not a public or secret key')
  const details = privateKey.asymmetricKeyDetails
  if (privateKey.asymmetricKeyType === 'ec') {
    const crv = JWK_CURVES[details?.namedCurve ?? '']
    if (crv === undefined)
      throw new TypeError(
        `openResource needs a P-256, P-384 or P-521 TEE key, not ${details?.namedCurve ?? 'unknown'}`,
      )
    return { alg: 'ECDH-ES+A256KW', crv }
  }
  if (privateKey.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < RSA_MIN_MODULUS_BITS)
      throw new TypeError(
        `openResource needs an RSA TEE key of at least ${RSA_MIN_MODULUS_BITS} bits`,
      )
    return { alg: 'RSA-OAEP-256' }
  }
  throw new TypeError(
    `openResource needs an EC or RSA TEE key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`,
  )
}

/** The protected header as a JSON object, its members checked as the module comment says. */
function protectedHeader(text: string, use: TeeKeyUse): JsonObject {
  let header: unknown
  let json: string
  try {
    json = utf8ToString(Buffer.from(text, 'base64url'))
  } catch {
    throw invalid('the protected header is not UTF-8 JSON')
  }
  try {
    // A member named twice (`"enc":"A128GCM","enc":"A256GCM"`) is refused, not read as its last
    // copy: RFC 7515 §4 says MUST reject or use the last one, and serde (guest-components) rejects.
    header = parseStrictJsonValue(json, {
      what: 'the protected header',
      syntaxCode: 'ERR_KBS_MESSAGE_INVALID',
      duplicateKeyCode: 'ERR_KBS_MESSAGE_DUPLICATE_KEY',
      tooDeepCode: 'ERR_KBS_MESSAGE_TOO_DEEP',
    })
  } catch (error) {
    const code = isInitguardError(error) ? error.code : undefined
    const field = isInitguardError(error) ? error.details['field'] : undefined
    throw invalid(
      code === 'ERR_KBS_MESSAGE_DUPLICATE_KEY' && typeof field === 'string'
        ? `the protected header names ${JSON.stringify(field)} more than once`
        : code === 'ERR_KBS_MESSAGE_TOO_DEEP'
          ? 'the protected header nests deeper than any JWE header does'
          : 'the protected header is not UTF-8 JSON',
    )
  }
  if (!isJsonObject(header)) throw invalid('the protected header is not a JSON object')
  if (Object.hasOwn(header, 'crit'))
    throw new Unopened(
      'ERR_JOSE_NOT_SUPPORTED',
      '"crit" names extensions this client does not implement',
    )
  if (Object.hasOwn(header, 'zip'))
    throw new Unopened('ERR_JOSE_NOT_SUPPORTED', '"zip" (compression) is not supported')
  for (const [member, allowed] of [
    ['alg', use.alg],
    ['enc', RESOURCE_JWE_ENC],
  ] as const) {
    const value = header[member]
    if (typeof value !== 'string') throw invalid(`"${member}" is missing or not a string`)
    if (value !== allowed)
      throw new Unopened(
        'ERR_JOSE_ALG_NOT_ALLOWED',
        `"${member}" ${JSON.stringify(value)} is not allowed`,
      )
  }
  return header
}

/** An optional base64url header member (`apu`, `apv`), decoded; empty when absent. */
function partyInfo(header: JsonObject, member: 'apu' | 'apv'): Uint8Array {
  const value = header[member]
  if (value === undefined) return new Uint8Array()
  if (typeof value !== 'string') throw invalid(`"${member}" is not a string`)
  try {
    return base64urlToBytes(value)
  } catch {
    throw invalid(`"${member}" is not canonical base64url`)
  }
}

/**
 * The shared secret `Z` of the TEE key and the ephemeral public key `epk`, which must be exactly
 * `{kty:"EC", crv: the TEE key's curve, x, y}`, each coordinate of the curve's length and the
 * point on the curve (refused as `ERR_JWE_INVALID` otherwise, before `apu` and `apv` are read).
 * A P-256 key of `generateEcKeyPair` (every TEE key the client makes by default) derives with the
 * `ECDH` object it was made with, from the raw point, which OpenSSL checks as it decodes it
 * ({@link keptEcdh} says why that check is the whole validation on P-256); any other key imports
 * `epk` as a key (which checks it) and derives with `diffieHellman`. The guest's CPU profile
 * showed that import and the derivation as its largest costs; the first path has no import.
 */
function ephemeralSecret(privateKey: KeyObject, header: JsonObject, crv: Curve): Buffer {
  const epk = header['epk']
  if (!isJsonObject(epk)) throw invalid('"epk" is missing or not an object')
  const members = Object.keys(epk).sort().join(',')
  if (members !== 'crv,kty,x,y')
    throw invalid(`"epk" has members ${members}, not exactly kty, crv, x, y`)
  if (epk['kty'] !== 'EC' || epk['crv'] !== crv)
    throw invalid(`"epk" is not an EC key on ${crv}, the TEE key's curve`)
  const coordinate = (name: 'x' | 'y'): { readonly text: string; readonly bytes: Uint8Array } => {
    const value = epk[name]
    let bytes: Uint8Array | undefined
    try {
      bytes = typeof value === 'string' ? base64urlToBytes(value) : undefined
    } catch {
      bytes = undefined
    }
    if (bytes?.length !== EC_COORDINATE_BYTES[crv] || typeof value !== 'string')
      throw invalid(`"epk".${name} is not ${EC_COORDINATE_BYTES[crv]} bytes of base64url`)
    return { text: value, bytes }
  }
  const [x, y] = [coordinate('x'), coordinate('y')]
  const notAPoint = (): Unopened => invalid(`"epk" is not a point on ${crv}`)
  const ecdh = keptEcdh(privateKey)
  if (ecdh !== undefined) {
    try {
      return ecdh.computeSecret(Buffer.concat([UNCOMPRESSED, x.bytes, y.bytes]))
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY')
        throw notAPoint()
      throw decryptionFailed()
    }
  }
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: { kty: 'EC', crv, x: x.text, y: y.text }, format: 'jwk' })
  } catch {
    throw notAPoint()
  }
  return decrypting(() => diffieHellman({ privateKey, publicKey }))
}

/** `run`, with any failure of the primitive reported as a failed decryption only. */
function decrypting(run: () => Buffer): Buffer {
  try {
    return run()
  } catch {
    throw decryptionFailed()
  }
}

/** The content-encryption key, unwrapped or decrypted with the TEE key. */
function contentKey(
  privateKey: KeyObject,
  use: TeeKeyUse,
  header: JsonObject,
  encryptedKey: Buffer,
): Buffer {
  if (use.alg === 'RSA-OAEP-256')
    return decrypting(() =>
      privateDecrypt(
        { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
        encryptedKey,
      ),
    )
  const z = ephemeralSecret(privateKey, header, use.crv)
  const [apu, apv] = [partyInfo(header, 'apu'), partyInfo(header, 'apv')]
  return decrypting(() => {
    const kek = ecdhEsA256kwKek(z, apu, apv)
    const unwrap = createDecipheriv('id-aes256-wrap', kek, AES_KW_IV)
    return Buffer.concat([unwrap.update(encryptedKey), unwrap.final()])
  })
}

/**
 * Decrypt a resource response with the TEE private key. The JWE is checked first
 * ({@link parseKbsResourceJwe}), then opened with the key's algorithm and A256GCM only (see the
 * module comment for every check).
 *
 * @throws {@link MalformedInputError} `ERR_KBS_MESSAGE_INVALID` for a malformed JWE;
 *   {@link VerificationError} `ERR_KBS_RESOURCE_DECRYPT` when it does not open (tampered
 *   protected header, key, IV, ciphertext or tag; another key; another algorithm); TypeError for a
 *   key that is not an EC (P-256/384/521) or RSA (≥ 2048 bits) private key.
 */
export function openResource(privateKey: KeyObject, jwe: unknown): Promise<Uint8Array> {
  try {
    return Promise.resolve(openSync(privateKey, jwe))
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

function openSync(privateKey: KeyObject, jwe: unknown): Uint8Array {
  const use = useOf(privateKey)
  const checked = parseKbsResourceJwe(jwe)
  const alg: KeyManagement = use.alg
  try {
    const header = protectedHeader(checked.protected, use)
    const cek = contentKey(privateKey, use, header, Buffer.from(checked.encrypted_key, 'base64url'))
    if (cek.length !== 32) throw decryptionFailed()
    const plaintext = decrypting(() => {
      const iv = Buffer.from(checked.iv, 'base64url')
      const gcm = createDecipheriv('aes-256-gcm', cek, iv, { authTagLength: 16 })
      gcm.setAAD(Buffer.from(checked.protected, 'ascii'))
      gcm.setAuthTag(Buffer.from(checked.tag, 'base64url'))
      return Buffer.concat([gcm.update(Buffer.from(checked.ciphertext, 'base64url')), gcm.final()])
    })
    // A copy: a small Buffer is a view into Node's shared pool.
    return new Uint8Array(plaintext)
  } catch (cause) {
    if (!(cause instanceof Unopened)) throw cause
    throw new VerificationError(
      'ERR_KBS_RESOURCE_DECRYPT',
      `the resource response does not decrypt with the TEE key (${alg}, ${RESOURCE_JWE_ENC}): ${cause.message}`,
      {
        cause,
        details: { alg, reason: cause.reason },
        hint: 'the response was altered in transit, or made for another TEE key or algorithm',
      },
    )
  }
}

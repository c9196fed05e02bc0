/**
 * The resource response: the secret encrypted to the TEE key as a flattened JWE (RFC 7516 §7.2.2),
 * exactly as Trustee's `kbs/src/jwe` makes it, so CoCo's client opens ours and we open Trustee's.
 *
 * ```text
 * protected     = b64url({"alg":"ECDH-ES+A256KW"|"RSA-OAEP-256","enc":"A256GCM"[,"epk":{…}]})
 * encrypted_key = the 32-byte CEK wrapped: AES-KW under Concat-KDF(SHA-256, ECDH Z,
 *                 AlgorithmID "ECDH-ES+A256KW", empty apu/apv) → 40 bytes; or RSA-OAEP-256
 * iv, tag       = 12 and 16 bytes; ciphertext = AES-256-GCM(CEK, iv, AAD = ASCII(protected))
 * ```
 *
 * No `aad` member and no unprotected header are made or accepted. Opening allows only the key's
 * own algorithm and A256GCM, so a response cannot choose a weaker one.
 *
 * Sealing runs on the KBS for every release, so it uses synchronous `node:crypto` primitives
 * (ephemeral key, ECDH, SHA-256, AES key wrap, RSA-OAEP, AES-GCM) composed as RFC 7518 §4.6 says:
 * jose's WebCrypto path made the same JWE with about nine asynchronous jobs and cost 1.8 ms of CPU
 * against 0.25 ms here. Opening (the guest's side, once per secret) stays with jose, which checks
 * everything we make, and the tests build Trustee's JWEs independently.
 *
 * @module
 */
import {
  constants,
  createCipheriv,
  createHash,
  diffieHellman,
  generateKeyPairSync,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from 'node:crypto'
import { VerificationError } from '@initguard/core'
import { flattenedDecrypt } from 'jose'
import type { KbsResourceJwe, TeePublicJwk } from './messages.ts'
import { parseKbsResourceJwe } from './message-parse.ts'
import { checkTeePublicJwk, type CheckedTeeKey } from './tee-public-jwk.ts'

/** The content encryption of every resource response. */
export const RESOURCE_JWE_ENC = 'A256GCM'

/** RFC 3394's default initial value, which A256KW uses (RFC 7518 §4.4). */
const AES_KW_IV = Buffer.from('A6A6A6A6A6A6A6A6', 'hex')

/** A 32-bit big-endian length followed by `data` (RFC 7518 §4.6.2). */
function lengthPrefixed(data: Uint8Array): Buffer {
  const length = Buffer.alloc(4)
  length.writeUInt32BE(data.length)
  return Buffer.concat([length, data])
}

/**
 * The key-encryption key of ECDH-ES+A256KW: Concat KDF (NIST SP 800-56A §5.8.1, RFC 7518 §4.6.2)
 * over the shared secret `z`, one SHA-256 round for 256 bits, AlgorithmID "ECDH-ES+A256KW",
 * empty PartyUInfo and PartyVInfo (Trustee sends no apu/apv), SuppPubInfo = 256.
 */
function ecdhEsA256kwKek(z: Buffer): Buffer {
  return createHash('sha256')
    .update(Buffer.of(0, 0, 0, 1))
    .update(z)
    .update(lengthPrefixed(Buffer.from('ECDH-ES+A256KW')))
    .update(lengthPrefixed(Buffer.alloc(0)))
    .update(lengthPrefixed(Buffer.alloc(0)))
    .update(Buffer.of(0, 0, 1, 0))
    .digest()
}

/** The protected header and the wrapped CEK for `key`. */
function wrapContentKey(
  checked: CheckedTeeKey,
  cek: Buffer,
): { readonly header: Record<string, unknown>; readonly encryptedKey: Buffer } {
  const { jwk, key } = checked
  if (jwk.kty === 'RSA') {
    const encryptedKey = publicEncrypt(
      { key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
      cek,
    )
    return { header: { alg: jwk.alg, enc: RESOURCE_JWE_ENC }, encryptedKey }
  }
  const ephemeral = generateKeyPairSync('ec', { namedCurve: jwk.crv })
  const { x, y } = ephemeral.publicKey.export({ format: 'jwk' })
  const kek = ecdhEsA256kwKek(diffieHellman({ privateKey: ephemeral.privateKey, publicKey: key }))
  const wrap = createCipheriv('id-aes256-wrap', kek, AES_KW_IV)
  return {
    header: { alg: jwk.alg, enc: RESOURCE_JWE_ENC, epk: { kty: 'EC', crv: jwk.crv, x, y } },
    encryptedKey: Buffer.concat([wrap.update(cek), wrap.final()]),
  }
}

/**
 * Encrypt `plaintext` to `teePubkey` (checked as {@link checkTeePublicJwk} does).
 *
 * @throws {@link MalformedInputError} for a key that does not pass the check.
 */
export function sealResource(
  teePubkey: TeePublicJwk,
  plaintext: Uint8Array,
): Promise<KbsResourceJwe> {
  try {
    const cek = randomBytes(32)
    const { header, encryptedKey } = wrapContentKey(checkTeePublicJwk(teePubkey, 'TEE key'), cek)
    const protectedHeader = Buffer.from(JSON.stringify(header)).toString('base64url')
    const iv = randomBytes(12)
    const gcm = createCipheriv('aes-256-gcm', cek, iv)
    gcm.setAAD(Buffer.from(protectedHeader, 'ascii'))
    const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()])
    // Trustee's member order.
    return Promise.resolve({
      protected: protectedHeader,
      encrypted_key: encryptedKey.toString('base64url'),
      iv: iv.toString('base64url'),
      ciphertext: ciphertext.toString('base64url'),
      tag: gcm.getAuthTag().toString('base64url'),
    })
  } catch (error) {
    return Promise.reject(error instanceof Error ? error : new Error(String(error)))
  }
}

/** The key-management algorithm a TEE private key is for. */
function algorithmOf(privateKey: KeyObject): 'ECDH-ES+A256KW' | 'RSA-OAEP-256' {
  if (privateKey.type !== 'private')
    throw new TypeError('openResource needs the TEE private key, not a public or secret key')
  if (privateKey.asymmetricKeyType === 'ec') return 'ECDH-ES+A256KW'
  if (privateKey.asymmetricKeyType === 'rsa') return 'RSA-OAEP-256'
  throw new TypeError(
    `openResource needs an EC or RSA TEE key, not ${privateKey.asymmetricKeyType ?? 'unknown'}`,
  )
}

function joseCode(error: unknown): string {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : 'ERR_UNKNOWN'
}

/**
 * Decrypt a resource response with the TEE private key. The JWE is checked first
 * ({@link parseKbsResourceJwe}), then opened with the key's algorithm and A256GCM only.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_MESSAGE_INVALID` for a malformed JWE;
 *   {@link VerificationError} `ERR_KBS_RESOURCE_DECRYPT` when it does not open (tampered
 *   protected header, key, IV, ciphertext or tag; another key; another algorithm).
 */
export async function openResource(privateKey: KeyObject, jwe: unknown): Promise<Uint8Array> {
  const alg = algorithmOf(privateKey)
  const checked = parseKbsResourceJwe(jwe)
  try {
    const { plaintext } = await flattenedDecrypt(checked, privateKey, {
      keyManagementAlgorithms: [alg],
      contentEncryptionAlgorithms: [RESOURCE_JWE_ENC],
    })
    return plaintext
  } catch (cause) {
    const why = cause instanceof Error ? cause.message : String(cause)
    throw new VerificationError(
      'ERR_KBS_RESOURCE_DECRYPT',
      `the resource response does not decrypt with the TEE key (${alg}, ${RESOURCE_JWE_ENC}): ${why}`,
      {
        cause,
        details: { alg, reason: joseCode(cause) },
        hint: 'the response was altered in transit, or made for another TEE key or algorithm',
      },
    )
  }
}

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
 * (ephemeral ECDH, SHA-256, AES key wrap, RSA-OAEP, AES-GCM) composed as RFC 7518 §4.6 says:
 * jose's WebCrypto path made the same JWE with about nine asynchronous jobs and cost 1.8 ms of CPU
 * against 0.25 ms here. Opening (the guest's side) is `resource-jwe-open.ts`, also `node:crypto`.
 *
 * @module
 */
import { constants, createCipheriv, createHash, publicEncrypt, randomBytes } from 'node:crypto'
import { ephemeralAgreement } from './ec-key-pair.ts'
import type { KbsResourceJwe, TeePublicJwk } from './messages.ts'
import { checkTeePublicJwk, type CheckedTeeKey } from './tee-public-jwk.ts'

/** The content encryption of every resource response. */
export const RESOURCE_JWE_ENC = 'A256GCM'

/** RFC 3394's default initial value, which A256KW uses (RFC 7518 §4.4). */
export const AES_KW_IV: Buffer = Buffer.from('A6A6A6A6A6A6A6A6', 'hex')

/** A 32-bit big-endian integer. */
function uint32(value: number): Buffer {
  const out = Buffer.alloc(4)
  out.writeUInt32BE(value)
  return out
}

/** A 32-bit big-endian length followed by `data` (RFC 7518 §4.6.2). */
function lengthPrefixed(data: Uint8Array): Buffer {
  return Buffer.concat([uint32(data.length), data])
}

const NO_PARTY_INFO = new Uint8Array()

/**
 * The key-encryption key of ECDH-ES+A256KW: Concat KDF (NIST SP 800-56A §5.8.1, RFC 7518 §4.6.2)
 * over the shared secret `z` with SHA-256: rounds of SHA-256(counter ‖ Z ‖ OtherInfo) until 256
 * bits (one round), OtherInfo = AlgorithmID "ECDH-ES+A256KW" ‖ PartyUInfo (`apu`) ‖ PartyVInfo
 * (`apv`), each length-prefixed, ‖ SuppPubInfo = 256. Trustee sends no apu/apv: both empty.
 */
export function ecdhEsA256kwKek(
  z: Uint8Array,
  apu: Uint8Array = NO_PARTY_INFO,
  apv: Uint8Array = NO_PARTY_INFO,
): Buffer {
  const keyBits = 256
  const otherInfo = Buffer.concat([
    lengthPrefixed(Buffer.from('ECDH-ES+A256KW')),
    lengthPrefixed(apu),
    lengthPrefixed(apv),
    uint32(keyBits),
  ])
  const rounds: Buffer[] = []
  for (let counter = 1; counter * 256 <= keyBits; counter++)
    rounds.push(createHash('sha256').update(uint32(counter)).update(z).update(otherInfo).digest())
  return Buffer.concat(rounds)
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
  // The ephemeral key is made and used raw (`ec-key-pair.ts` says why not generateKeyPairSync).
  const { x, y, sharedSecret } = ephemeralAgreement(jwk.crv, jwk)
  const kek = ecdhEsA256kwKek(sharedSecret)
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

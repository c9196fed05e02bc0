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
 * @module
 */
import type { KeyObject } from 'node:crypto'
import { InternalError, VerificationError } from '@initguard/core'
import { FlattenedEncrypt, flattenedDecrypt, importJWK } from 'jose'
import type { KbsResourceJwe, TeePublicJwk } from './messages.ts'
import { parseKbsResourceJwe } from './message-parse.ts'
import { parseTeePublicJwk } from './tee-public-jwk.ts'

/** The content encryption of every resource response. */
export const RESOURCE_JWE_ENC = 'A256GCM'

/**
 * Encrypt `plaintext` to `teePubkey` (checked as {@link parseTeePublicJwk} does).
 *
 * @throws {@link MalformedInputError} for a key that does not pass the check.
 */
export async function sealResource(
  teePubkey: TeePublicJwk,
  plaintext: Uint8Array,
): Promise<KbsResourceJwe> {
  const key = parseTeePublicJwk(teePubkey, 'TEE key')
  const publicKey = await importJWK(key, key.alg)
  const jwe = await new FlattenedEncrypt(plaintext)
    .setProtectedHeader({ alg: key.alg, enc: RESOURCE_JWE_ENC })
    .encrypt(publicKey)
  // Trustee's member order. jose makes every member for these algorithms (it leaves
  // encrypted_key out only for "dir"); a missing one would be our bug, never a short response.
  return {
    protected: made(jwe.protected, 'protected'),
    encrypted_key: made(jwe.encrypted_key, 'encrypted_key'),
    iv: made(jwe.iv, 'iv'),
    ciphertext: jwe.ciphertext,
    tag: made(jwe.tag, 'tag'),
  }
}

function made(value: string | undefined, name: string): string {
  if (value === undefined)
    throw new InternalError('ERR_KBS_JWE_INCOMPLETE', `the resource JWE was made without ${name}`)
  return value
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

/**
 * Resource JWEs built independently of `sealResource`, as Trustee builds them, for the tests of
 * both sides.
 */
import {
  constants,
  createCipheriv,
  createHash,
  createPublicKey,
  diffieHellman,
  publicEncrypt,
  randomBytes,
} from 'node:crypto'
import { generateEcKeyPair } from './ec-key-pair.ts'
import type { KbsResourceJwe, TeePublicJwk } from './messages.ts'

/** Unpadded base64url. */
export const b64url = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64url')

/** Concat KDF (NIST SP 800-56A, RFC 7518 §4.6.2): one SHA-256 round, 256-bit output. */
function concatKdf(z: Buffer, algorithmId: string): Buffer {
  const lengthPrefixed = (data: Buffer): Buffer =>
    Buffer.concat([Buffer.from(Uint32Array.of(data.length).buffer).reverse(), data])
  return createHash('sha256')
    .update(Buffer.of(0, 0, 0, 1))
    .update(z)
    .update(lengthPrefixed(Buffer.from(algorithmId)))
    .update(lengthPrefixed(Buffer.alloc(0)))
    .update(lengthPrefixed(Buffer.alloc(0)))
    .update(Buffer.of(0, 0, 1, 0))
    .digest()
}

/**
 * What Trustee's `kbs/src/jwe` does, with node:crypto primitives only (independently of
 * `sealResource`): `alg` replaces RSA-OAEP-256 (e.g. RSA1_5); `editHeader` changes the protected
 * header before it becomes the AAD, so the content still decrypts under the edited header;
 * `editText` changes its JSON text (e.g. to repeat a member, which no object can hold).
 */
export function trusteeStyleJwe(
  teeKey: TeePublicJwk,
  plaintext: Uint8Array,
  alg?: string,
  editHeader: (header: Record<string, unknown>) => unknown = (header) => header,
  editText: (json: string) => string = (json) => json,
): KbsResourceJwe {
  const cek = randomBytes(32)
  let header: Record<string, unknown>
  let encryptedKey: Buffer
  const publicKey = createPublicKey({ key: { ...teeKey }, format: 'jwk' })
  if (teeKey.kty === 'EC') {
    const ephemeral = generateEcKeyPair(teeKey.crv)
    const epk = ephemeral.jwk
    header = {
      alg: 'ECDH-ES+A256KW',
      enc: 'A256GCM',
      epk: { crv: epk.crv, kty: 'EC', x: epk.x, y: epk.y },
    }
    const z = diffieHellman({ privateKey: ephemeral.privateKey, publicKey })
    const kek = concatKdf(z, 'ECDH-ES+A256KW')
    const wrap = createCipheriv('id-aes256-wrap', kek, Buffer.from('A6A6A6A6A6A6A6A6', 'hex'))
    encryptedKey = Buffer.concat([wrap.update(cek), wrap.final()])
  } else {
    header = { alg: alg ?? 'RSA-OAEP-256', enc: 'A256GCM' }
    encryptedKey =
      alg === 'RSA1_5'
        ? publicEncrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, cek)
        : publicEncrypt(
            { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' },
            cek,
          )
  }
  const protectedHeader = b64url(Buffer.from(editText(JSON.stringify(editHeader(header)))))
  const iv = randomBytes(12)
  const gcm = createCipheriv('aes-256-gcm', cek, iv)
  gcm.setAAD(Buffer.from(protectedHeader, 'ascii'))
  const ciphertext = Buffer.concat([gcm.update(plaintext), gcm.final()])
  return {
    protected: protectedHeader,
    encrypted_key: b64url(encryptedKey),
    iv: b64url(iv),
    ciphertext: b64url(ciphertext),
    tag: b64url(gcm.getAuthTag()),
  }
}

/**
 * The TEE key pair a client generates for one attestation: the public half goes into
 * `runtime-data."tee-pubkey"` (and so into REPORT_DATA), the private half opens the resource JWE.
 * Members in the order CoCo's client (kbs-types `TeePubKey`) writes them:
 * `{"kty":"EC","crv","alg","x","y"}` and `{"kty":"RSA","alg","n","e"}`.
 *
 * @module
 */
import { generateKeyPair, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import type { TeePublicJwk } from './messages.ts'
import { parseTeePublicJwk } from './tee-public-jwk.ts'

/** The key kinds: CoCo's default is P-256; RSA keys are for RSA-OAEP-256. */
export type TeeKeyKind = 'P-256' | 'P-384' | 'P-521' | 'RSA-2048' | 'RSA-3072' | 'RSA-4096'

/** All kinds, for tests and option validation. */
export const TEE_KEY_KINDS: readonly TeeKeyKind[] = [
  'P-256',
  'P-384',
  'P-521',
  'RSA-2048',
  'RSA-3072',
  'RSA-4096',
]

/** A TEE key pair. */
export interface TeeKeyPair {
  readonly publicJwk: TeePublicJwk
  readonly privateKey: KeyObject
}

const generate = promisify(generateKeyPair)

/** The public JWK of `privateKey` in the wire form (checked as a peer's would be). */
export function teePublicJwkOf(privateKey: KeyObject): TeePublicJwk {
  const jwk = privateKey.export({ format: 'jwk' })
  const wire =
    jwk.kty === 'EC'
      ? { kty: 'EC', crv: jwk.crv, alg: 'ECDH-ES+A256KW', x: jwk.x, y: jwk.y }
      : { kty: jwk.kty, alg: 'RSA-OAEP-256', n: jwk.n, e: jwk.e }
  return parseTeePublicJwk(wire, 'TEE key')
}

/**
 * A fresh key pair of `kind`. EC keys are made synchronously: a P-256 key takes some 30 µs, less
 * than handing the job to the thread pool and back costs; RSA keys (tens to hundreds of ms) are
 * made off the main thread.
 */
export async function generateTeeKeyPair(kind: TeeKeyKind = 'P-256'): Promise<TeeKeyPair> {
  const { privateKey } = kind.startsWith('RSA-')
    ? await generate('rsa', { modulusLength: Number(kind.slice(4)), publicExponent: 0x10001 })
    : generateKeyPairSync('ec', { namedCurve: kind })
  return { publicJwk: teePublicJwkOf(privateKey), privateKey }
}

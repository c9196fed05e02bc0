/**
 * The TEE key pair a client generates for one attestation: the public half goes into
 * `runtime-data."tee-pubkey"` (and so into REPORT_DATA), the private half opens the resource JWE.
 * Members in the order CoCo's client (kbs-types `TeePubKey`) writes them:
 * `{"kty":"EC","crv","alg","x","y"}` and `{"kty":"RSA","alg","n","e"}`.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, generateKeyPair, type KeyObject } from 'node:crypto'
import { promisify } from 'node:util'
import { generateEcKeyPair } from './ec-key-pair.ts'
import type { TeePublicJwk } from './messages.ts'
import { parseTeePublicJwk, rememberOwnEcKey } from './tee-public-jwk.ts'

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

/**
 * The public JWK of `key` (private or public) in the wire form, checked as a peer's would be.
 * The JWK is exported from a re-imported copy of the public half, never from `key` itself: `key`
 * may come from `generateKeyPair(Sync)`, and exporting a JWK from such a key can deadlock Node 20
 * (`ec-key-pair.ts` says how).
 */
export function teePublicJwkOf(key: KeyObject): TeePublicJwk {
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' })
  // eslint-disable-next-line no-restricted-syntax -- exported from the imported copy
  const jwk = createPublicKey({ key: spki, format: 'der', type: 'spki' }).export({ format: 'jwk' })
  const wire =
    jwk.kty === 'EC'
      ? { kty: 'EC', crv: jwk.crv, alg: 'ECDH-ES+A256KW', x: jwk.x, y: jwk.y }
      : { kty: jwk.kty, alg: 'RSA-OAEP-256', n: jwk.n, e: jwk.e }
  return parseTeePublicJwk(wire, 'TEE key')
}

/**
 * A fresh key pair of `kind`. EC keys are made synchronously with `createECDH`, their JWK read
 * from the raw point, and imported once: the public JWK's check finds the public half of the
 * imported private key instead of importing and validating the same point again (P-256: about
 * 0.14 ms of CPU against 0.21 ms with the second import, measured with Node 20.20.2). RSA
 * keys (tens to hundreds of ms) are made off the main thread, handed back encoded and imported, so
 * the key used is not tied to the generation job (`ec-key-pair.ts` says why that matters).
 */
export async function generateTeeKeyPair(kind: TeeKeyKind = 'P-256'): Promise<TeeKeyPair> {
  if (!kind.startsWith('RSA-')) {
    const pair = generateEcKeyPair(kind as Exclude<TeeKeyKind, `RSA-${string}`>)
    const { crv, x, y } = pair.jwk
    // The private import validated (x, y); the check below finds the key instead of doing so again.
    rememberOwnEcKey(pair)
    return {
      publicJwk: parseTeePublicJwk({ kty: 'EC', crv, alg: 'ECDH-ES+A256KW', x, y }, 'TEE key'),
      privateKey: pair.privateKey,
    }
  }
  const { privateKey: pkcs8 } = await generate('rsa', {
    modulusLength: Number(kind.slice(4)),
    publicExponent: 0x10001,
    publicKeyEncoding: { type: 'spki', format: 'der' },
    privateKeyEncoding: { type: 'pkcs8', format: 'der' },
  })
  const privateKey = createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' })
  return { publicJwk: teePublicJwkOf(privateKey), privateKey }
}

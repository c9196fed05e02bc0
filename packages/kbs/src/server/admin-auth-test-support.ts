/** Admin key pairs and tokens for the server's tests. */
import { generateKeyPairSync, type KeyObject } from 'node:crypto'
import { SignJWT } from 'jose'
import { parseAdminPublicKey, type AdminPublicKey } from './admin-auth.ts'

/** An admin key pair: the private key and the parsed public key. */
export interface TestAdminKey {
  readonly privateKey: KeyObject
  readonly publicPem: string
  readonly admin: AdminPublicKey
}

/** A fresh Ed25519 (`EdDSA`) or P-256 (`ES256`) admin key pair. */
export function testAdminKey(algorithm: 'EdDSA' | 'ES256'): TestAdminKey {
  const { privateKey, publicKey } =
    algorithm === 'EdDSA'
      ? generateKeyPairSync('ed25519')
      : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString()
  return { privateKey, publicPem, admin: parseAdminPublicKey(publicPem, `test ${algorithm} key`) }
}

/** A signed admin JWT; `claims` override the valid defaults (role admin, aud [KBS], exp +5 min). */
export async function testAdminToken(
  key: TestAdminKey,
  now: Date,
  claims: Record<string, unknown> = {},
  options: { readonly noExp?: boolean } = {},
): Promise<string> {
  const alg = key.admin.algorithm
  const iat = Math.floor(now.getTime() / 1000)
  const payload = {
    role: 'admin',
    aud: ['KBS'],
    sub: 'test-admin',
    iat,
    ...(options.noExp === true ? {} : { exp: iat + 300 }),
    ...claims,
  }
  return new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(key.privateKey)
}

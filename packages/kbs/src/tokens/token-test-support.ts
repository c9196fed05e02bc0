/**
 * Test support for tokens: an accepted appraisal as the appraiser returns it, with a real TEE key.
 *
 * @module
 */
import { createPrivateKey, sign } from 'node:crypto'
import { generateEcKeyPair, type EcTeePublicJwk } from '@initguard/kbs-protocol'
import type { AppraisalAccepted, SigningKeyRecord } from '../ports.ts'

/** An RCAR session's id, as a token's `jti` carries it. */
export const SESSION = '0123456789abcdef0123456789abcdef'

/** A fresh P-256 TEE public key in the shape `runtime-data."tee-pubkey"` carries. */
export function teeKey(): Promise<EcTeePublicJwk> {
  const { x, y } = generateEcKeyPair('P-256').jwk
  return Promise.resolve({ kty: 'EC', crv: 'P-256', alg: 'ECDH-ES+A256KW', x, y })
}

/** An accepted SNP appraisal for workload `web@3`, bound to `key`. */
export function acceptedFor(key: EcTeePublicJwk, simulated = false): AppraisalAccepted {
  return {
    accepted: true,
    tee: 'snp',
    workload: { name: 'web', version: 3 },
    simulated,
    evidenceDigest: 'cd'.repeat(32),
    annotatedEvidence: {
      snp: { measurement: 'ab'.repeat(48), policy_debug_allowed: false },
      init_data: 'ef'.repeat(32),
      init_data_claims: { 'aa.toml': { token_configs: {} } },
      report_data: '01'.repeat(64),
      runtime_data_claims: { nonce: 'bm9uY2U=', 'tee-pubkey': key, 'additional-evidence': '' },
    },
  }
}

/** The claims of a token, typed for assertions. */
export interface ClaimsView {
  readonly eat_profile: string
  readonly iat: number
  readonly exp: number
  readonly iss: string
  readonly jti: string
  readonly 'ear.verifier-id': { readonly developer: string; readonly build: string }
  readonly submods: {
    readonly cpu0: {
      readonly 'ear.status': string
      readonly 'ear.appraisal-policy-id': string
      readonly 'ear.trustworthiness-vector': Readonly<Record<string, number>>
      readonly 'ear.veraison.annotated-evidence': {
        readonly runtime_data_claims: Readonly<Record<string, unknown>>
        readonly [claim: string]: unknown
      }
    }
  }
  readonly initguard: Readonly<Record<string, unknown>>
}

/** `claims` as a {@link ClaimsView}. */
export function claimsView(claims: unknown): ClaimsView {
  return claims as ClaimsView
}

const b64url = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

/**
 * What a thief of the signing key `leaked` can make: a token with `claimsOf`'s claims, issued at
 * `issuedAt` (the thief's choice) for 5 minutes.
 */
export function forgedToken(leaked: SigningKeyRecord, claimsOf: string, issuedAt: Date): string {
  const [, payload] = claimsOf.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString()) as Record<string, unknown>
  const iat = issuedAt.getTime() / 1000
  const input = `${b64url({ alg: 'ES256', typ: 'JWT', kid: leaked.kid })}.${b64url({
    ...claims,
    iat,
    exp: iat + 300,
  })}`
  const signature = sign('sha256', Buffer.from(input), {
    key: createPrivateKey({ key: { ...leaked.privateJwk }, format: 'jwk' }),
    dsaEncoding: 'ieee-p1363',
  }).toString('base64url')
  return `${input}.${signature}`
}

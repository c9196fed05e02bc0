/**
 * Attestation tokens: EAR JWTs (ES256) in Trustee's claim shape, keys persisted in the store and
 * rotated without breaking tokens in flight. Implements the `TokenService` port.
 *
 * @example
 * ```ts
 * const tokens = createTokenService({ store: store.signingKeys, issuer: 'https://kbs.example' })
 * const token = await tokens.issue(accepted, teePubkey, now)
 * const facts = await tokens.verify(token, now) // or a coded ERR_KBS_TOKEN_… error (→ 401)
 * ```
 *
 * @module
 */
export { createTokenService, DEFAULT_VERIFIER_ID } from './token-service.ts'
export type { TokenServiceOptions, KbsTokenService } from './token-service.ts'
export type { PublicSigningJwk } from './signing-keys.ts'
export {
  EAR_PROFILE,
  SIMULATED_BUILD_NOTE,
  acceptedTrustVector,
  appraisalPolicyId,
  earClaims,
  earStatusOf,
} from './ear-claims.ts'
export type { EarClaimsInput, EarStatus, TrustworthinessVector, VerifierId } from './ear-claims.ts'
export { readVerifiedClaims } from './verified-claims.ts'

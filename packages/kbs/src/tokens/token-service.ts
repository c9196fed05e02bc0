/**
 * The attestation token service: EAR JWTs signed ES256 with persistent keys from the store,
 * rotation that keeps the previous key published until its tokens have expired (or, after a
 * leak, revokes every previous key at once), and verification
 * that trusts only our own keys, chosen by `kid`.
 *
 * Header: `{"alg":"ES256","typ":"JWT","kid":"<RFC 7638 thumbprint>"}`; claims: see `ear-claims.ts`.
 *
 * @module
 */
import { sign } from 'node:crypto'
import { UsageError, jsonKind } from '@initguard/core'
import type { TeePublicJwk } from '@initguard/kbs-protocol'
import type {
  AppraisalAccepted,
  AuditEntryInput,
  SigningKeyStore,
  TokenService,
  VerifiedToken,
} from '../ports.ts'
import { REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'
import { earClaims } from './ear-claims.ts'
import { splitCompactJws, tokenError, verifyEs256Jwt, type CompactJws } from './es256-jwt.ts'
import type { VerifierId } from './ear-claims.ts'
import { SigningKeyRing } from './signing-keys.ts'
import type { PublicSigningJwk } from './signing-keys.ts'
import { readVerifiedClaims } from './verified-claims.ts'

/** Options of {@link createTokenService}. */
export interface TokenServiceOptions {
  /** Where the signing keys live (shared by every replica). */
  readonly store: SigningKeyStore
  /** `iss` of every token, checked on verify. */
  readonly issuer: string
  /** Token lifetime, 1…86400 seconds; default 300 (Trustee's 5 minutes). */
  readonly lifetimeSeconds?: number
  /** `ear.verifier-id`; default Initguard's. */
  readonly verifierId?: VerifierId
  /** How stale this instance's key list may be when it signs; default 60 s. */
  readonly refreshSeconds?: number
  /**
   * Extra time a retired key stays published after its last token's expiry; default 120 s, at
   * least `refreshSeconds` + twice {@link REPLICA_CLOCK_SKEW_MS}: a replica may sign with the
   * retired key for up to `refreshSeconds` after the rotation, the replica that purges the key may
   * be ahead of the one that retired it, and the one that verifies behind the one that signed.
   */
  readonly leewaySeconds?: number
  /** Imported keys kept in memory; default 32. */
  readonly keyCacheSize?: number
  /**
   * A monotonic clock in ms for the key list's age (default `performance.now`): the `now` of each
   * call can step back, and the list must still be read again every `refreshSeconds`.
   */
  readonly monotonicMs?: () => number
}

/** Our token service, with the JWKS typed. */
export interface KbsTokenService extends TokenService {
  jwks(now: Date): Promise<{ readonly keys: readonly PublicSigningJwk[] }>
}

/** The default `ear.verifier-id`. */
export const DEFAULT_VERIFIER_ID: VerifierId = {
  developer: 'https://github.com/initguard/initguard',
  build: 'initguard-kbs 0.1.0',
}

/**
 * Create the token service.
 *
 * @throws {@link UsageError} `ERR_KBS_TOKEN_OPTIONS` for an empty issuer or an out-of-range time.
 */
export function createTokenService(options: TokenServiceOptions): KbsTokenService {
  const lifetimeSeconds = seconds(options.lifetimeSeconds ?? 300, 'lifetimeSeconds', 1, 86_400)
  const refreshSeconds = seconds(options.refreshSeconds ?? 60, 'refreshSeconds', 0, 3600)
  const leewaySeconds = seconds(
    options.leewaySeconds ?? 120,
    'leewaySeconds',
    refreshSeconds + (2 * REPLICA_CLOCK_SKEW_MS) / 1000,
    86_400,
  )
  if (options.issuer.length === 0) throw optionError('issuer must not be empty')
  const { issuer } = options
  const verifierId = options.verifierId ?? DEFAULT_VERIFIER_ID
  const ring = new SigningKeyRing(
    options.store,
    { refreshSeconds, publishedAfterRetirementSeconds: lifetimeSeconds + leewaySeconds },
    options.keyCacheSize ?? 32,
    options.monotonicMs,
  )

  return {
    async issue(
      accepted: AppraisalAccepted,
      teePubkey: TeePublicJwk,
      now: Date,
      session: string,
    ): Promise<string> {
      // Checked at run time too: a refusal must never reach the signer.
      if ((accepted as { readonly accepted: unknown }).accepted !== true) {
        throw new UsageError(
          'ERR_KBS_TOKEN_NOT_ACCEPTED',
          'a token is only issued for an accepted appraisal',
        )
      }
      const claims = earClaims({
        accepted,
        teePubkey,
        issuer,
        verifierId,
        issuedAt: now,
        lifetimeSeconds,
        session,
      })
      const signer = await ring.signer(now)
      // RFC 7515 compact serialisation, signed with node:crypto (ES256 = ECDSA P-256 SHA-256,
      // the signature as r ‖ s); verified the same way (es256-jwt.ts, cross-checked against jose).
      const input = `${base64urlJson({ alg: 'ES256', typ: 'JWT', kid: signer.kid })}.${base64urlJson(claims)}`
      const signature = sign('sha256', Buffer.from(input), {
        key: signer.key,
        dsaEncoding: 'ieee-p1363',
      })
      return `${input}.${signature.toString('base64url')}`
    },

    async verify(token: string, now: Date): Promise<VerifiedToken> {
      const jws = splitCompactJws(token)
      const kid = keyIdOf(jws.header)
      const key = await ring.verifier(kid, now)
      if (key === undefined) {
        throw tokenError(
          'ERR_KBS_TOKEN_UNKNOWN_KEY',
          'the token is signed with a key this KBS does not publish',
        )
      }
      return readVerifiedClaims(verifyEs256Jwt(jws, key, { issuer, now }))
    },

    async jwks(now: Date): Promise<{ readonly keys: readonly PublicSigningJwk[] }> {
      return { keys: await ring.published(now) }
    },

    async rotate(
      now: Date,
      changed?: (kid: string, revoked?: readonly string[]) => AuditEntryInput,
      options?: { readonly revokePrevious: boolean },
    ): Promise<{ readonly kid: string; readonly revoked?: readonly string[] }> {
      if (options?.revokePrevious === true) return ring.rotateRevoking(now, changed)
      return { kid: await ring.rotate(now, changed) }
    },
  }
}

function base64urlJson(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url')
}

/** The header's `kid`, after refusing any algorithm but ES256 before a key is looked up. */
function keyIdOf(header: CompactJws['header']): string {
  const { alg, kid } = header
  if (alg !== 'ES256') {
    throw tokenError(
      'ERR_KBS_TOKEN_ALGORITHM',
      `the token's algorithm is ${typeof alg === 'string' ? JSON.stringify(alg.slice(0, 20)) : jsonKind(alg)}, not ES256`,
    )
  }
  if (typeof kid !== 'string' || kid.length === 0) {
    throw tokenError('ERR_KBS_TOKEN_UNKNOWN_KEY', 'the token names no key (kid)')
  }
  return kid
}

function seconds(value: number, name: string, min: number, max: number): number {
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw optionError(
      `${name} must be an integer from ${String(min)} to ${String(max)} seconds (got ${String(value)})`,
    )
  }
  return value
}

function optionError(what: string): UsageError {
  return new UsageError('ERR_KBS_TOKEN_OPTIONS', `token service: ${what}`, {
    hint: 'fix the token settings',
  })
}

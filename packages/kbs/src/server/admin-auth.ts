/**
 * Admin authentication: `Authorization: Bearer <JWT>` verified with `jose` against the configured
 * admin public keys, as Trustee's `bearer_jwt` with the rules its quickstart tokens follow, and
 * nothing looser:
 *
 * - keys are PEM SubjectPublicKeyInfo, Ed25519 (→ `EdDSA`) or P-256 (→ `ES256`); any other key is
 *   refused when the server starts, and with no key at all the server does not start (Trustee's
 *   default is allow-all);
 * - a token verifies only with a key of its header's algorithm (`none`, HS256 and the rest never);
 * - `exp` is required and must be in the future (30 s leeway), `aud` must contain the KBS's admin
 *   audience (`admin-audience`; Trustee's fixed `KBS` unless configured, which binds a token to
 *   no KBS in particular: two KBSes that share an admin key need audiences of their own, or a
 *   token minted for one works on the other), `role` must be `admin`, and `sub`, when present,
 *   must be a string.
 *
 * A refusal after the signature verified with a configured key says which key
 * (`details.signedBy`) and why (`details.reason`): only such a refusal may reach the audit log,
 * since only a holder of an admin private key can cause one.
 *
 * @module
 */
import { createHash, createPublicKey, type KeyObject } from 'node:crypto'
import { UsageError, VerificationError } from '@initguard/core'
import { DEFAULT_ADMIN_AUDIENCE } from '@initguard/kbs-protocol'
import { decodeProtectedHeader, jwtVerify } from 'jose'

/** The algorithms an admin token may use: one per accepted key type. */
export type AdminJwtAlgorithm = 'EdDSA' | 'ES256'

/** One admin public key. */
export interface AdminPublicKey {
  readonly algorithm: AdminJwtAlgorithm
  readonly key: KeyObject
  /** Hex SHA-256 of the key's SubjectPublicKeyInfo: names the key in logs. */
  readonly fingerprint: string
  /** Where the key came from (a file path), for messages. */
  readonly source: string
}

/** What a verified admin token says. */
export interface AdminIdentity {
  readonly subject: string | undefined
  /** The fingerprint of the key that verified it. */
  readonly keyFingerprint: string
}

/**
 * How audit entries name an admin: `admin key <first 16 hex of its fingerprint>`, and its token's
 * `sub` when it is a string (quoted and cut: the signer's words).
 */
export function adminSignerText(keyFingerprint: string, subject: unknown): string {
  const sub = typeof subject === 'string' ? `, sub ${JSON.stringify(subject.slice(0, 64))}` : ''
  return `admin key ${keyFingerprint.slice(0, 16)}${sub}`
}

/** The audience an admin token must name unless the KBS is configured with its own (Trustee's). */
export const ADMIN_AUDIENCE: string = DEFAULT_ADMIN_AUDIENCE
/** The audit reason of a token refused for its audience: a token for another KBS. */
export const ADMIN_AUDIENCE_REFUSED = 'ERR_KBS_ADMIN_AUDIENCE'
/** The role an admin token must carry. */
export const ADMIN_ROLE = 'admin'
/** Clock leeway for `exp`, in seconds. */
export const ADMIN_CLOCK_LEEWAY_SECONDS = 30
/** The longest an admin token may still be valid when it arrives, in seconds. */
export const ADMIN_MAX_TOKEN_SECONDS = 3600

/**
 * Read an admin public key from PEM (SPKI). Ed25519 → `EdDSA`, EC P-256 → `ES256`.
 *
 * @throws {@link UsageError} `ERR_KBS_ADMIN_KEY` for text that is not a public key PEM, a private
 *   key, or a key of another type.
 */
export function parseAdminPublicKey(pem: string, source: string): AdminPublicKey {
  const refuse = (why: string, cause?: unknown): UsageError =>
    new UsageError('ERR_KBS_ADMIN_KEY', `admin public key ${source}: ${why}`, {
      ...(cause === undefined ? {} : { cause }),
      details: { source },
      hint: 'give a PEM public key (BEGIN PUBLIC KEY), Ed25519 or P-256; `initguard kbs keygen` makes one',
    })
  if (!pem.includes('-----BEGIN PUBLIC KEY-----')) throw refuse('not a PEM public key')
  let key: KeyObject
  try {
    key = createPublicKey({ key: pem, format: 'pem' })
  } catch (cause) {
    throw refuse('the PEM does not hold a readable public key', cause)
  }
  const type = key.asymmetricKeyType
  const curve = key.asymmetricKeyDetails?.namedCurve
  const algorithm: AdminJwtAlgorithm | undefined =
    type === 'ed25519' ? 'EdDSA' : type === 'ec' && curve === 'prime256v1' ? 'ES256' : undefined
  if (algorithm === undefined) {
    throw refuse(
      `a ${type ?? 'unknown'}${curve === undefined ? '' : ` ${curve}`} key; only Ed25519 (EdDSA) and P-256 (ES256) are accepted`,
    )
  }
  const spki = key.export({ type: 'spki', format: 'der' })
  const fingerprint = createHash('sha256').update(spki).digest('hex')
  return { algorithm, key, fingerprint, source }
}

/**
 * Check that admin keys were configured at all.
 *
 * @throws {@link UsageError} `ERR_KBS_NO_ADMIN_KEY`: there is no allow-all default.
 */
export function requireAdminKeys(keys: readonly AdminPublicKey[]): void {
  if (keys.length === 0) {
    throw new UsageError('ERR_KBS_NO_ADMIN_KEY', 'no admin public key is configured', {
      hint: 'pass --admin-public-key FILE (or admin-public-key in the config file); the KBS has no allow-all admin mode',
    })
  }
}

/**
 * A token that a configured key signed but that is refused: which key, the audit reason, and the
 * token's `sub` when it is a string.
 */
interface SignedRefusal {
  readonly signedBy: string
  readonly reason: string
  readonly subject?: string
}

const subjectOf = (payload: unknown): { subject?: string } => {
  const sub = (payload as { sub?: unknown } | undefined)?.sub
  return typeof sub === 'string' ? { subject: sub } : {}
}

function denied(why: string, cause?: unknown, signed?: SignedRefusal): VerificationError {
  return new VerificationError('ERR_KBS_ADMIN_AUTH', `admin authentication failed: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
    ...(signed === undefined ? {} : { details: { ...signed } }),
  })
}

/** `jose`'s refusals that come after the signature verified: the claims are the signer's. */
const AFTER_SIGNATURE = ['ERR_JWT_CLAIM_VALIDATION_FAILED', 'ERR_JWT_EXPIRED']

/** The token's `aud` as it says it, quoted and cut (the signer's text, shown to the signer). */
function tokenAudience(error: unknown): string {
  const aud = (error as { payload?: { aud?: unknown } }).payload?.aud
  if (aud === undefined) return 'no audience (no aud claim)'
  const text = JSON.stringify(aud)
  return text.length > 200 ? `${text.slice(0, 200)}…` : text
}

/** Why `jose` refused a token, in words that name no key material. */
function joseReason(error: unknown, audience: string): string {
  const code = (error as { code?: unknown } | null)?.code
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return 'the token has expired; sign a new one'
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (error as { claim?: unknown }).claim
      return claim === 'aud'
        ? `the token is for ${tokenAudience(error)}, not for this KBS's admin audience ${JSON.stringify(audience)}: sign it for that audience (initguard kbs admin --admin-audience)`
        : `the token's ${typeof claim === 'string' ? claim : 'claims'} claim is missing or invalid`
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
      return 'the signature does not verify with any configured admin key'
    default:
      return 'the token is not a valid JWT'
  }
}

/**
 * Verify the `Authorization` header of an admin request at `now`, for a KBS whose admin audience
 * is `audience` (default Trustee's `KBS`).
 *
 * @throws {@link VerificationError} `ERR_KBS_ADMIN_AUTH` (→ 401 AdminAuthAccess) saying why; with
 *   `details.signedBy` (the key's fingerprint) and `details.reason` (`ERR_KBS_ADMIN_AUDIENCE` for
 *   a token for another audience, else `ERR_KBS_ADMIN_AUTH`) when a configured key signed it.
 */
export async function verifyAdminAuthorization(
  authorization: string | undefined,
  keys: readonly AdminPublicKey[],
  now: Date,
  audience: string = ADMIN_AUDIENCE,
): Promise<AdminIdentity> {
  if (authorization === undefined) throw denied('no Authorization header; send Bearer <admin JWT>')
  const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*)$/.exec(authorization)
  const token = match?.[1]
  if (token === undefined) throw denied('the Authorization header is not "Bearer <JWT>"')
  let alg: unknown
  try {
    alg = decodeProtectedHeader(token).alg
  } catch (cause) {
    throw denied('the token header is not readable', cause)
  }
  if (alg !== 'EdDSA' && alg !== 'ES256') {
    throw denied(`the token's alg ${JSON.stringify(alg)} is not accepted (EdDSA or ES256 only)`)
  }
  const candidates = keys.filter((k) => k.algorithm === alg)
  if (candidates.length === 0) throw denied(`no configured admin key is for ${alg}`)
  let lastError: unknown
  for (const candidate of candidates) {
    const signed: { -readonly [K in keyof SignedRefusal]: SignedRefusal[K] } = {
      signedBy: candidate.fingerprint,
      reason: 'ERR_KBS_ADMIN_AUTH',
    }
    try {
      const { payload } = await jwtVerify(token, candidate.key, {
        algorithms: [candidate.algorithm],
        audience,
        requiredClaims: ['exp'],
        clockTolerance: ADMIN_CLOCK_LEEWAY_SECONDS,
        currentDate: now,
      })
      Object.assign(signed, subjectOf(payload))
      if (payload['role'] !== ADMIN_ROLE) {
        throw denied(`the token's role is not "${ADMIN_ROLE}"`, undefined, signed)
      }
      // jose checks `sub` only against an expected value: a number or an object would reach the
      // audit log as the admin's name. RFC 7519 §4.1.2 makes it a string.
      const subject: unknown = payload.sub
      if (subject !== undefined && typeof subject !== 'string') {
        throw denied(`the token's sub claim is not a string`, undefined, signed)
      }
      // A stolen long-lived admin token is a standing key to every secret: cap what we accept.
      const lifetime = (payload.exp ?? 0) - now.getTime() / 1000
      if (lifetime > ADMIN_MAX_TOKEN_SECONDS + ADMIN_CLOCK_LEEWAY_SECONDS) {
        throw denied(
          `the token is valid for ${String(Math.round(lifetime))} s more; admin tokens may live at most ${String(ADMIN_MAX_TOKEN_SECONDS)} s (initguard kbs admin signs 5-minute tokens)`,
          undefined,
          signed,
        )
      }
      return { subject, keyFingerprint: candidate.fingerprint }
    } catch (error) {
      if (error instanceof VerificationError) throw error
      const code = (error as { code?: unknown }).code
      if (typeof code === 'string' && AFTER_SIGNATURE.includes(code)) {
        const claim = (error as { claim?: unknown }).claim
        throw denied(joseReason(error, audience), error, {
          ...signed,
          ...subjectOf((error as { payload?: unknown }).payload),
          ...(claim === 'aud' ? { reason: ADMIN_AUDIENCE_REFUSED } : {}),
        })
      }
      lastError = error
      // A signature failure may just mean another configured key signed it: try the next one.
      if (code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') break
    }
  }
  throw denied(joseReason(lastError, audience), lastError)
}

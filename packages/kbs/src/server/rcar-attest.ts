/**
 * `POST /kbs/v0/attest`: the challenge comes from the cookie (checked under the master key, and
 * its expiry, before the database is touched); the body is parsed, bound to the challenge's nonce
 * and appraised, and a token is signed; then ONE write settles it: the session row (`attested` with the token, or
 * `consumed` after a refusal) with its audit entry. That insert is what makes the challenge single
 * use: when the row exists already, on any replica, the challenge was used (or it expired so long
 * ago, by the database's clock, that its row may have been swept), and whatever else this call got
 * right or wrong it is refused as used (401 `ERR_KBS_CHALLENGE_USED`, audited) and no token leaves.
 * So a refusal burns the challenge, as a success uses it; so does a throw after the cookie
 * verified (appraisal or token issue), which is audited with its code before it goes on.
 *
 * @module
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { constantTimeEqual, isInitguardError, stringToUtf8 } from '@initguard/core'
import type { KbsAttestation } from '@initguard/kbs-protocol'
import type { AuditEntryInput, RcarChallenge } from '../ports.ts'
import { problem, type KbsProblem } from './errors.ts'
import { audit, sendProblem, type KbsRouteContext } from './route-context.ts'
import { sessionCookieOf } from './session-cookie.ts'
import { unreadQueryRefusal } from './unread-query.ts'

const START_AGAIN = 'start a new handshake with /kbs/v0/auth'

const expired: Refusal = {
  told: problem(401, 'AttestationError', `the challenge has expired; ${START_AGAIN}`),
  reason: 'ERR_KBS_CHALLENGE_EXPIRED',
}

/** A refusal: what the guest is told, and what the audit log records besides. */
interface Refusal {
  readonly told: KbsProblem
  readonly reason: string
  readonly audited?: Partial<AuditEntryInput>
}

/**
 * Handle one `/attest`. Throws (after burning the challenge and auditing) only when appraisal or
 * the token's issue threw.
 */
export async function attest(
  context: KbsRouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const { metrics, store } = context
  metrics.attestationRequests.inc()
  /** Refused with the entry appended on its own: there is no challenge to burn. */
  const refuse = async (refusal: Refusal, tee?: RcarChallenge['tee']): Promise<FastifyReply> => {
    metrics.attestationFailures.inc({ tee_type: tee ?? 'unknown' })
    await audit(context, deniedEntry(refusal, tee))
    return sendProblem(reply, refusal.told)
  }
  const used = (challenge: RcarChallenge): Promise<FastifyReply> =>
    refuse(
      {
        // Or expired past the retention grace by the database's clock: one answer for both.
        told: problem(401, 'AttestationError', `challenge already used or expired; ${START_AGAIN}`),
        reason: 'ERR_KBS_CHALLENGE_USED',
      },
      challenge.tee,
    )
  const query = unreadQueryRefusal(request, 'POST /kbs/v0/attest')
  if (query !== undefined) return refuse(query)
  const cookie = sessionCookieOf(request.headers.cookie)
  if (!cookie.present)
    return refuse({
      told: problem(
        401,
        'AttestationError',
        'no kbs-session-id cookie: start with POST /kbs/v0/auth and send the cookie it sets',
      ),
      reason: 'ERR_KBS_SESSION_MISSING',
    })
  const challenge =
    cookie.value === undefined ? undefined : store.sessions.openChallenge(cookie.value)
  if (challenge === undefined)
    return refuse({
      told: problem(401, 'AttestationError', `unknown session; ${START_AGAIN}`),
      reason: 'ERR_KBS_SESSION_UNKNOWN',
    })
  const now = context.clock()
  if (challenge.expiresAt.getTime() <= now.getTime()) return refuse(expired, challenge.tee)
  /** Refused after the cookie verified: the challenge is burnt in the write that audits. */
  const burn = async (refusal: Refusal): Promise<FastifyReply> => {
    const entry = { at: context.clock(), ...deniedEntry(refusal, challenge.tee) }
    if (!(await store.sessions.recordRefused(challenge, entry))) return used(challenge)
    metrics.attestationFailures.inc({ tee_type: challenge.tee })
    return sendProblem(reply, refusal.told)
  }
  /** Refused by a throw after the cookie verified: burnt and audited like a refusal, rethrown. */
  const burnThenThrow = async (
    error: unknown,
    detail: string,
    audited: Partial<AuditEntryInput> = {},
  ): Promise<FastifyReply> => {
    const burnt = await store.sessions.recordRefused(challenge, {
      at: context.clock(),
      action: 'attest',
      outcome: 'denied',
      reason: isInitguardError(error) ? error.code : 'ERR_INTERNAL',
      detail,
      tee: challenge.tee,
      ...audited,
    })
    if (!burnt) return used(challenge)
    metrics.attestationFailures.inc({ tee_type: challenge.tee })
    throw error
  }
  let message: KbsAttestation
  try {
    message = context.protocol.parseKbsAttestation(request.body)
  } catch (error) {
    if (!isInitguardError(error)) throw error
    return burn({
      told: problem(400, 'SerdeError', `malformed attestation: ${error.message}`),
      reason: error.code,
    })
  }
  const nonce = message['runtime-data'].nonce
  if (!constantTimeEqual(stringToUtf8(nonce), stringToUtf8(challenge.nonce)))
    return burn({
      told: problem(
        401,
        'AttestationError',
        "runtime-data.nonce is not this session's challenge; bind the evidence to the nonce /kbs/v0/auth returned",
      ),
      reason: 'ERR_KBS_NONCE_MISMATCH',
    })
  const teePubkey = message['runtime-data']['tee-pubkey']
  const initData = message['init-data']
  let outcome
  try {
    outcome = await context.appraiser.appraise({
      tee: challenge.tee,
      nonce: challenge.nonce,
      teePubkey,
      ...(initData === undefined ? {} : { initData }),
      primaryEvidence: message['tee-evidence'].primary_evidence,
      additionalEvidence: message['tee-evidence'].additional_evidence,
      now,
    })
  } catch (error) {
    // Collateral out of reach (503) or a bug (500): still a denial the audit log must show.
    return burnThenThrow(error, 'the evidence could not be appraised')
  }
  if (!outcome.accepted) {
    const variant = outcome.status === 403 ? 'PolicyDeny' : 'AttestationError'
    if (outcome.status === 403) metrics.policyViolations.inc()
    // The audit keeps the full detail; the guest gets the one meant for it.
    return burn({
      told: problem(outcome.status, variant, outcome.clientDetail ?? outcome.detail),
      reason: outcome.code,
      audited: {
        detail: outcome.detail,
        simulated: outcome.simulated,
        ...(outcome.evidenceDigest === undefined ? {} : { evidenceDigest: outcome.evidenceDigest }),
      },
    })
  }
  const accepted = {
    workload: outcome.workload.name,
    evidenceDigest: outcome.evidenceDigest,
    simulated: outcome.simulated,
  }
  let token: string
  try {
    token = await context.tokens.issue(outcome, teePubkey, now, challenge.id)
  } catch (error) {
    // The key store out of reach (503), or a signing key that does not unwrap (500): the guest's
    // evidence was good, but the challenge is burnt and the failure audited all the same.
    return burnThenThrow(error, 'no token could be issued', accepted)
  }
  // Appraisal may have taken a while: a challenge that expired meanwhile gets no token.
  if (challenge.expiresAt.getTime() <= context.clock().getTime())
    return burn({ ...expired, audited: accepted })
  // The session, its token and the issue's audit entry in one atomic write, before the guest
  // gets the token: a challenge another call used meanwhile gets none.
  const recorded = await store.sessions.recordAttested(challenge, token, {
    at: context.clock(),
    action: 'attest',
    outcome: 'issued',
    tee: outcome.tee,
    ...accepted,
  })
  if (!recorded) return used(challenge)
  metrics.attestationSuccesses.inc({ tee_type: outcome.tee })
  return reply.send({ token })
}

/** The audit entry of a refusal (without its time). */
function deniedEntry(refusal: Refusal, tee?: RcarChallenge['tee']): Omit<AuditEntryInput, 'at'> {
  return {
    action: 'attest',
    outcome: 'denied',
    reason: refusal.reason,
    detail: refusal.told.detail,
    ...(tee === undefined ? {} : { tee }),
    ...refusal.audited,
  }
}

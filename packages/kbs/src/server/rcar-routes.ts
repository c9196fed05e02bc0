/**
 * The RCAR routes: `POST /kbs/v0/auth`, `POST /kbs/v0/attest`, `GET /kbs/v0/resource/<path>`.
 *
 * `/auth` writes nothing when it hands out a challenge: the challenge is carried by its
 * authenticated cookie. It is single use all the same (`rcar-attest.ts`): a replay, a second try
 * with the same nonce, or an expired challenge is refused (401) and the client starts over at
 * `/auth`. Every refusal and every release is audited: a refused `/auth` too, and a body refused
 * before a route's handler ran (not JSON, too large, too deep). Every one of these routes carries
 * the per-client rate limit, checked before the body is read, so a flood is answered 429 before it
 * reaches the audit log: one client adds at most `rate-limit.max` entries per window and route.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isInitguardError } from '@initguard/core'
import { KBS_PROTOCOL_VERSION } from '@initguard/kbs-protocol'
import type { AuditEntryInput, VerifiedToken } from '../ports.ts'
import { problem, problemForError, type KbsProblem } from './errors.ts'
import { audit, resourcePathOf, sendProblem, type KbsRouteContext } from './route-context.ts'
import { attest } from './rcar-attest.ts'
import { repeatedAuthorization } from './repeated-authorization.ts'
import { sessionCookie, sessionCookieOf } from './session-cookie.ts'
import { unreadBodyRefusal, unreadQueryRefusal } from './unread-query.ts'

const SUPPORTED_TEES = ['snp', 'tdx', 'sgx']
const BAD_RESOURCE_PATH = problem(
  400,
  'InvalidRequestPath',
  'a resource path is <repository>/<type>/<tag>, each matching ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$',
)

/**
 * A clear 400 for another protocol version or TEE, before the strict parser runs, with the code
 * the audit log records (the parser's own for the same fault).
 */
function refuseRequestEarly(body: unknown): Refusal | undefined {
  const { version, tee } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >
  if (typeof version === 'string' && version !== KBS_PROTOCOL_VERSION)
    return {
      told: problem(
        400,
        'AttestationError',
        `protocol version ${JSON.stringify(version.slice(0, 32))} is not supported: this KBS speaks RCAR ${KBS_PROTOCOL_VERSION} (use a client that sends version "${KBS_PROTOCOL_VERSION}")`,
      ),
      reason: 'ERR_KBS_PROTOCOL_VERSION',
    }
  if (typeof tee === 'string' && !SUPPORTED_TEES.includes(tee))
    return {
      told: problem(
        400,
        'AttestationError',
        `TEE ${JSON.stringify(tee.slice(0, 32))} is not supported: this KBS verifies ${SUPPORTED_TEES.join(', ')}`,
      ),
      reason: 'ERR_KBS_TEE_UNSUPPORTED',
    }
  return undefined
}

/** A refusal: what the client is told, and the code the audit log records with it. */
interface Refusal {
  readonly told: KbsProblem
  readonly reason: string
}

/** Where the guest's resource route lives; a path under it the router refuses is audited too. */
export const RESOURCE_ROUTE_PREFIX = '/kbs/v0/resource/'

/**
 * Answers a guest GET under {@link RESOURCE_ROUTE_PREFIX} that no route took (a segment over 128
 * characters, a malformed `%` escape, another number of segments than three) with `refused`.
 */
export type RouterRefusal = (
  request: FastifyRequest,
  reply: FastifyReply,
  refused: KbsProblem,
) => Promise<FastifyReply>

/**
 * Audits the refusal `told` of `request` when it refused the body of `/auth` or `/attest` before
 * the route's handler ran (not JSON, too large, too deep, another content type); a 429 is the rate
 * limit's and is never audited. Returns the answer: `told`, or the store's failure when the entry
 * could not be appended.
 */
export type BodyRefusal = (
  request: FastifyRequest,
  error: unknown,
  told: KbsProblem,
) => Promise<KbsProblem>

/** What {@link registerRcarRoutes} gives the app's router and error handler. */
export interface RcarRefusals {
  readonly resource: RouterRefusal
  readonly body: BodyRefusal
}

/**
 * Audit a resource GET refused for its path, as every refused GET is: the path asked for is named
 * in the detail (quoted, cut to 200 characters, control characters escaped by the quoting), never
 * as the entry's resource.
 */
async function auditBadResourcePath(context: KbsRouteContext, asked: string): Promise<void> {
  await audit(context, {
    action: 'resource',
    outcome: 'denied',
    reason: 'ERR_KBS_RESOURCE_PATH_INVALID',
    detail: `${BAD_RESOURCE_PATH.detail} (asked for ${JSON.stringify(asked.slice(0, 200))})`,
  })
}

/** The RCAR routes that read a body, and the audit action of each. */
const BODY_ROUTES: Readonly<Record<string, 'auth' | 'attest'>> = {
  '/kbs/v0/auth': 'auth',
  '/kbs/v0/attest': 'attest',
}

/**
 * Register the RCAR routes; each carries the rate limit. Returns what answers a guest GET under
 * {@link RESOURCE_ROUTE_PREFIX} that no route took: counted in the resource route's own rate
 * limit (the same counter, so no URL grows the audit log faster than the route allows), then
 * audited like the route's own path refusal; and what audits a body refused before its route's
 * handler ran (already counted in that route's rate limit, which runs before the body is read).
 */
export function registerRcarRoutes(
  app: FastifyInstance,
  context: KbsRouteContext,
  rateLimit: { readonly max: number; readonly timeWindow: number },
): RcarRefusals {
  const { metrics, store } = context
  // Requests whose body the route accepted: a later error is its handler's, audited there.
  const bodyAccepted = new WeakSet<FastifyRequest>()
  const accepted = {
    preValidation: (request: FastifyRequest, _reply: FastifyReply, done: () => void): void => {
      bodyAccepted.add(request)
      done()
    },
  }
  app.post('/kbs/v0/auth', { config: { rateLimit }, ...accepted }, async (request, reply) => {
    metrics.authRequests.inc()
    const refuse = async ({ told, reason }: Refusal): Promise<FastifyReply> => {
      metrics.authErrors.inc()
      await audit(context, { action: 'auth', outcome: 'denied', reason, detail: told.detail })
      return sendProblem(reply, told)
    }
    const early =
      unreadQueryRefusal(request, 'POST /kbs/v0/auth') ?? refuseRequestEarly(request.body)
    if (early !== undefined) return refuse(early)
    let tee
    try {
      tee = context.protocol.parseKbsRequest(request.body).tee
    } catch (error) {
      if (!isInitguardError(error)) {
        metrics.authErrors.inc()
        throw error
      }
      return refuse({ told: problemForError(error).problem, reason: error.code })
    }
    const expiresAt = new Date(context.clock().getTime() + context.nonceTtlMs)
    const challenge = store.sessions.issueChallenge(tee, expiresAt)
    metrics.authSuccesses.inc()
    return reply
      .header('set-cookie', sessionCookie(challenge.cookie, expiresAt, context.secureCookie))
      .send({ nonce: challenge.nonce, 'extra-params': '' })
  })

  app.post('/kbs/v0/attest', { config: { rateLimit }, ...accepted }, async (request, reply) =>
    attest(context, request, reply),
  )

  // Limited too: every refused GET writes an audit entry, and the audit log only grows. One
  // limiter (one counter per client) for the route and for the paths no route takes under it.
  const resourceLimit = app.rateLimit(rateLimit)
  app.get(
    `${RESOURCE_ROUTE_PREFIX}:repo/:type/:tag`,
    {
      onRequest: async function (request, reply) {
        await resourceLimit.call(this, request, reply)
      },
    },
    async (request, reply) => release(context, request, reply),
  )
  const resource: RouterRefusal = async (request, reply, refused) => {
    try {
      await resourceLimit.call(app, request, reply)
      const path = request.url.split('?')[0] ?? ''
      await auditBadResourcePath(context, path.slice(RESOURCE_ROUTE_PREFIX.length))
    } catch (error) {
      // No route, so no error handler: map it here (429 when over the limit).
      const mapped = problemForError(error)
      if (mapped.unexpected) request.log.error({ err: error }, 'unexpected error')
      return sendProblem(reply, mapped.problem)
    }
    return sendProblem(reply, refused)
  }
  const body: BodyRefusal = async (request, error, told) => {
    const action =
      request.method === 'POST' ? BODY_ROUTES[request.routeOptions.url ?? ''] : undefined
    if (action === undefined || bodyAccepted.has(request) || told.status === 429) return told
    const code = (error as { code?: unknown } | null)?.code
    try {
      await audit(context, {
        action,
        outcome: 'denied',
        reason: typeof code === 'string' ? code : 'ERR_KBS_REQUEST_MALFORMED',
        detail: told.detail,
      })
    } catch (auditError) {
      const mapped = problemForError(auditError)
      if (mapped.unexpected) request.log.error({ err: auditError }, 'unexpected error')
      return mapped.problem
    }
    return told
  }
  return { resource, body }
}

/** The token of this request: `Authorization: Bearer`, else the attested session's. */
async function tokenOf(
  context: KbsRouteContext,
  request: FastifyRequest,
): Promise<VerifiedToken | KbsProblem> {
  const now = context.clock()
  const repeated = repeatedAuthorization(request)
  if (repeated !== undefined) return problem(401, 'TokenVerifierError', repeated)
  const authorization = request.headers.authorization
  let token: string | undefined
  if (authorization !== undefined) {
    token = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(authorization)?.[1]
    if (token === undefined)
      return problem(
        401,
        'TokenVerifierError',
        'the Authorization header is not "Bearer <attestation token>"',
      )
  } else {
    // The cookie is checked, and its expiry, before the one read that fetches its token.
    const { sessions } = context.store
    const cookie = sessionCookieOf(request.headers.cookie)
    const challenge =
      cookie.present && cookie.value !== undefined
        ? sessions.openChallenge(cookie.value)
        : undefined
    // Live only while the expiry is after now: an invalid date (a row changed behind the KBS)
    // compares false with every time, and must not read as "not yet expired".
    const live = (expiresAt: Date): boolean => expiresAt.getTime() > now.getTime()
    const session =
      challenge === undefined || !live(challenge.expiresAt)
        ? undefined
        : await sessions.get(challenge.id)
    if (session?.state !== 'attested' || session.token === undefined || !live(session.expiresAt))
      return problem(
        401,
        'TokenNotFound',
        'no attestation token: attest first (POST /kbs/v0/attest with the session cookie) or send Authorization: Bearer <token>',
      )
    token = session.token
  }
  try {
    return await context.tokens.verify(token, now)
  } catch (error) {
    return problem(
      401,
      'TokenVerifierError',
      isInitguardError(error) ? error.message : 'the attestation token does not verify',
    )
  }
}

async function release(
  context: KbsRouteContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply> {
  const path = resourcePathOf(request.params)
  if (path === undefined) {
    // Refused before any token is looked at, and audited like every other refused GET: the path
    // asked for is named in the detail (quoted and cut), never as the entry's resource.
    const { repo, type, tag } = request.params as Partial<Record<'repo' | 'type' | 'tag', string>>
    await auditBadResourcePath(context, [repo, type, tag].join('/'))
    return sendProblem(reply, BAD_RESOURCE_PATH)
  }
  const deny = async (p: KbsProblem, reason: string, by?: VerifiedToken): Promise<FastifyReply> => {
    await audit(context, {
      action: 'resource',
      outcome: 'denied',
      resource: path,
      reason,
      detail: p.detail,
      ...(by === undefined ? {} : tokenFacts(by)),
    })
    return sendProblem(reply, p)
  }
  const unread =
    unreadQueryRefusal(request, 'GET /kbs/v0/resource/…') ??
    unreadBodyRefusal(request, 'GET /kbs/v0/resource/…')
  if (unread !== undefined) return deny(unread.told, unread.reason)
  const token = await tokenOf(context, request)
  if (!('workload' in token))
    return deny(
      token,
      `ERR_KBS_${token.variant === 'TokenNotFound' ? 'TOKEN_MISSING' : 'TOKEN_INVALID'}`,
    )
  // A token from a run that trusted the simulator is worth nothing to one that does not (the
  // signing keys persist in the data directory across restarts).
  if (token.simulated && !context.simulatedTrust)
    return deny(
      problem(
        401,
        'TokenVerifierError',
        'the token vouches for simulated evidence and this KBS does not trust the TEE simulator; attest again',
      ),
      'ERR_KBS_TOKEN_SIMULATED',
      token,
    )
  const may = await context.appraiser.mayRelease(
    { name: token.workload, version: token.workloadVersion },
    path,
  )
  if (may === 'changed')
    return deny(
      problem(
        401,
        'TokenVerifierError',
        `workload ${token.workload} has changed since version ${String(token.workloadVersion)} appraised this guest (or no longer exists); attest again`,
      ),
      'ERR_KBS_WORKLOAD_CHANGED',
      token,
    )
  if (may === 'denied') {
    context.metrics.policyViolations.inc()
    return deny(
      problem(
        403,
        'PolicyDeny',
        `workload ${token.workload} may not receive ${path} (not among its resources)`,
      ),
      'ERR_KBS_RESOURCE_NOT_ALLOWED',
      token,
    )
  }
  context.metrics.policyApprovals.inc()
  const by = tokenFacts(token)
  // Read and audited in one atomic write: the entry exists before any byte of the secret leaves.
  const found = await context.store.resources.release(path, {
    at: context.clock(),
    action: 'resource',
    outcome: 'released',
    resource: path,
    ...by,
  })
  if (found === undefined)
    return deny(
      problem(404, 'ResourceNotFound', `no resource ${path}`),
      'ERR_KBS_RESOURCE_MISSING',
      token,
    )
  let jwe
  try {
    jwe = await context.protocol.sealResource(token.teePubkey, found.plaintext())
  } catch (error) {
    // Nothing left: the log says so, next to the release entry it had already written.
    await audit(context, {
      action: 'resource',
      outcome: 'denied',
      resource: path,
      reason: isInitguardError(error) ? error.code : 'ERR_INTERNAL',
      detail: `the release recorded as audit entry ${String(found.auditId)} failed: the resource could not be opened or sealed to the TEE key`,
      ...by,
    })
    throw error
  }
  context.metrics.resourceReads.inc({ resource_path: path })
  return reply.type('application/json').send(jwe)
}

/** What a release's audit entries say of the token behind it, its session included. */
function tokenFacts(
  token: VerifiedToken,
): Pick<AuditEntryInput, 'workload' | 'tee' | 'simulated' | 'session'> {
  const { workload, tee, simulated, session } = token
  return { workload, tee, simulated, session }
}

/**
 * The admin API, every route behind an admin JWT checked in `onRequest` (before any body is read):
 * Trustee's `POST`/`DELETE /kbs/v0/resource/<path>` (raw bytes, any content type, 200 empty), and
 * under `/kbs/v0/admin/`: resources (listed without values), workloads (validated, versioned),
 * the audit log (listed, and pruned: `admin-audit-prune.ts`) and token-signing key rotation. Every
 * change is audited. A refused admin call
 * changes nothing; it is audited only when a configured admin key signed its token (one for
 * another KBS's admin audience, expired, without the admin role, …), so that only a holder of an
 * admin private key can add such an entry, never an unauthenticated caller; and then within the
 * per-client rate limit, checked before the entry is written: a flood of them is answered 429 and
 * grows the log by at most `rate-limit.max` entries per window. Other refusals are only logged.
 *
 * @module
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isInitguardError, type InitguardError } from '@initguard/core'
import { AUDIT_PRUNE_ROUTE, registerAuditPrune } from './admin-audit-prune.ts'
import { adminSignerText, verifyAdminAuthorization, type AdminIdentity } from './admin-auth.ts'
import type { AuditEntryInput, UnauthenticatedWorkload } from '../ports.ts'
import { problem, problemBody, problemForError, type KbsErrorVariant } from './errors.ts'
import {
  audit,
  isPathSegment,
  resourcePathOf,
  sendCodedProblem,
  sendProblem,
  type KbsRouteContext,
} from './route-context.ts'
import { repeatedAuthorization } from './repeated-authorization.ts'
import { carriesBody, queryOf } from './unread-query.ts'

const RESOURCE = '/kbs/v0/resource/:repo/:type/:tag'
const ROTATE_ROUTE = '/kbs/v0/admin/signing-keys/rotate'
const ROTATE_RULE =
  'the rotation takes no body, or a JSON object {"revokePrevious": true|false}, nothing else'
const BAD_PATH = problem(
  400,
  'InvalidRequestPath',
  'a resource path is <repository>/<type>/<tag>, each matching ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$',
)

/** A rate limiter's `onRequest` handler: throws a 429 error once the client is over the limit. */
type Limiter = (request: FastifyRequest, reply: FastifyReply) => Promise<void>

/**
 * The audit entry of an admin call refused although a configured key signed its token: what was
 * asked (method and path, cut), why, and by which key and `sub` (quoted and cut: the signer's).
 */
function signedRefusal(
  request: FastifyRequest,
  error: InitguardError,
  signedBy: string,
): Omit<AuditEntryInput, 'at'> {
  const { reason, subject } = error.details
  const path = (request.url.split('?')[0] ?? '').slice(0, 200)
  return {
    action: 'admin',
    outcome: 'denied',
    reason: typeof reason === 'string' ? reason : error.code,
    detail: `${request.method} ${path} refused: ${error.message} (signed by ${adminSignerText(signedBy, subject)})`,
  }
}

/** Who signed each admin request that got through the guard, for the entries that name them. */
const admins = new WeakMap<FastifyRequest, AdminIdentity>()

function adminGuard(context: KbsRouteContext, refusals: Limiter) {
  return async (
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> => {
    // Refused before any signature is checked, so never audited (see the module's comment).
    const repeated = repeatedAuthorization(request)
    if (repeated !== undefined) {
      request.log.warn({ reason: repeated }, 'admin request refused')
      return sendProblem(reply, problem(401, 'AdminAuthAccess', repeated))
    }
    try {
      const identity = await verifyAdminAuthorization(
        request.headers.authorization,
        context.adminKeys,
        context.clock(),
        context.adminAudience,
      )
      request.log.info(
        { admin: identity.subject, key: identity.keyFingerprint.slice(0, 16) },
        'admin request',
      )
      admins.set(request, identity)
      return undefined
    } catch (error) {
      const detail = isInitguardError(error) ? error.message : 'admin authentication failed'
      request.log.warn({ reason: detail }, 'admin request refused')
      const signedBy = isInitguardError(error) ? error.details['signedBy'] : undefined
      if (isInitguardError(error) && typeof signedBy === 'string') {
        try {
          await refusals(request, reply)
          await audit(context, signedRefusal(request, error, signedBy))
        } catch (limitedOrFailed) {
          // Over the rate limit (429, not audited), or the audit log could not be written (503).
          const mapped = problemForError(limitedOrFailed)
          if (mapped.unexpected) request.log.error({ err: limitedOrFailed }, 'unexpected error')
          return sendProblem(reply, mapped.problem)
        }
      }
      return sendProblem(reply, problem(401, 'AdminAuthAccess', detail))
    }
  }
}

/** The admin routes that read a body (`METHOD url`); every other refuses one. */
const ROUTES_WITH_BODY: ReadonlySet<string> = new Set([
  `POST ${RESOURCE}`,
  'PUT /kbs/v0/admin/workloads/:name',
  `POST ${AUDIT_PRUNE_ROUTE}`,
  `POST ${ROTATE_ROUTE}`,
])
/** The admin route that reads a query string; every other refuses one. */
const ROUTE_WITH_QUERY = 'GET /kbs/v0/admin/audit'

/**
 * Refuse input the route would ignore (run after {@link adminGuard}): a query string anywhere but
 * the audit log, a body anywhere but the upload, the workload put, the audit prune and the
 * signing-key rotation, and a `Content-Encoding` other than identity anywhere (the body would be
 * taken still encoded). Ignored, a filter (`?name=web`) or an option (`{"algorithm": …}`) would
 * look applied when it was not, and a `?version=1` on a delete would delete whatever version is
 * there.
 */
async function refuseUnreadInput(
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<FastifyReply | undefined> {
  const route = `${request.method === 'HEAD' ? 'GET' : request.method} ${request.routeOptions.url ?? ''}`
  const query = queryOf(request)
  if (query !== '' && route !== ROUTE_WITH_QUERY)
    return sendProblem(
      reply,
      problem(
        400,
        'SerdeError',
        `${route} reads no query string, so the query string ${JSON.stringify(query.slice(0, 100))} would be ignored: send the request without it (only ${ROUTE_WITH_QUERY} takes parameters)`,
      ),
    )
  // Fastify decodes no Content-Encoding: a gzip upload was stored as its compressed bytes.
  const coding = request.headers['content-encoding']
  if (coding !== undefined && coding.trim().toLowerCase() !== 'identity')
    return sendProblem(
      reply,
      problem(
        400,
        'SerdeError',
        `the body is sent with Content-Encoding ${JSON.stringify(coding.slice(0, 64))}, which the KBS does not decode (it would take the encoded bytes as the body): send the body unencoded`,
      ),
    )
  if (carriesBody(request) && !ROUTES_WITH_BODY.has(route))
    return sendProblem(
      reply,
      problem(
        400,
        'SerdeError',
        `${route} takes no body, so it would be ignored: send the request without one`,
      ),
    )
  return undefined
}

/**
 * Run a workload write, then tell the appraiser (even when the write failed part way), so this
 * process never decides on what it read before its own change.
 */
async function wroteWorkloads<T>(context: KbsRouteContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } finally {
    context.appraiser.workloadsChanged?.()
  }
}

/**
 * The admin GET's answer for a workload whose newest row does not authenticate: 409 (the stored
 * state, not the request nor the admin's token, is what is wrong, and a put resolves it), the
 * problem body plus the coded reason and the stored text under a name that says it is
 * unauthenticated. Never a 2xx and never a `definition` member: a client that takes a success, or
 * a `definition`, for a workload it may use or put back does not get one.
 */
function unusableWorkloadBody(found: UnauthenticatedWorkload): Record<string, unknown> {
  const { name, version, unusable, unauthenticatedDefinition } = found
  const detail =
    `${unusable.message}. Its stored definition text (unauthenticatedDefinition) is shown for ` +
    'review only: it may have been written behind the KBS; compare it with your own copy, then ' +
    'put the workload again (a new, authenticated version)'
  return {
    ...problemBody(problem(409, 'WorkloadUnusable', detail)),
    workload: name,
    version,
    unusable,
    unauthenticatedDefinition,
  }
}

function workloadName(params: unknown): string | undefined {
  const name = (params as { name?: string }).name
  return isPathSegment(name) ? name : undefined
}

const BAD_NAME = problem(
  400,
  'InvalidRequestPath',
  'a workload name matches ^[A-Za-z0-9_-][A-Za-z0-9_.-]*$ (at most 128 characters)',
)
const BAD_AUDIT_QUERY = problem(
  400,
  'SerdeError',
  'the audit query takes after=<entry id> and limit=<1 to 1000>, whole numbers, nothing else',
)

/**
 * A cursor (`after=`) naming no entry: 409 when it was pruned (the log moved on under the
 * reader, who may have missed entries: start again from 0), 404 when there never was one; and
 * 409 for one no listing gave (PostgreSQL: above the horizon, see `storage/audit-log.ts`).
 */
const AUDIT_CURSOR_REFUSALS: Readonly<
  Record<string, { readonly status: 404 | 409; readonly variant: KbsErrorVariant }>
> = {
  ERR_KBS_AUDIT_CURSOR_PRUNED: { status: 409, variant: 'AuditCursorPruned' },
  ERR_KBS_AUDIT_CURSOR_AHEAD: { status: 409, variant: 'AuditCursorAhead' },
  ERR_KBS_AUDIT_CURSOR_UNKNOWN: { status: 404, variant: 'AuditEntryNotFound' },
}

function parseAuditQuery(query: unknown): { afterId?: number; limit: number } | undefined {
  const { after, limit, ...rest } = query as Record<string, unknown>
  if (Object.keys(rest).length > 0) return undefined
  const int = (value: unknown, max: number): number | undefined =>
    typeof value === 'string' && /^[0-9]{1,15}$/.test(value) && Number(value) <= max
      ? Number(value)
      : undefined
  const afterId = after === undefined ? undefined : int(after, Number.MAX_SAFE_INTEGER)
  const count = limit === undefined ? 100 : int(limit, 1000)
  if ((after !== undefined && afterId === undefined) || count === undefined || count === 0)
    return undefined
  return { ...(afterId === undefined ? {} : { afterId }), limit: count }
}

/**
 * The audit entry of an admin change (to the resource or workload named in `subject`, if any), at
 * the context's clock. Passed to the store, which appends it in the same write as the change.
 */
function adminChange(
  context: KbsRouteContext,
  detail: string,
  subject: { readonly resource?: string; readonly workload?: string } = {},
): AuditEntryInput {
  return { at: context.clock(), action: 'admin', outcome: 'changed', detail, ...subject }
}

/**
 * Whether a rotation's body asks to revoke the previous keys, or what is wrong with it: only no
 * body, `{}` or `{"revokePrevious": <boolean>}` is taken (a misspelt member, or `"true"`, would
 * rotate with the grace the operator meant to cut).
 */
function revokePreviousOf(body: unknown): boolean | string {
  if (body === undefined) return false
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return ROTATE_RULE
  const { revokePrevious, ...rest } = body as Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0)
    return `${ROTATE_RULE}; ${JSON.stringify(unknown[0]?.slice(0, 64))} is not read, so it would be ignored`
  if (revokePrevious === undefined) return false
  return typeof revokePrevious === 'boolean'
    ? revokePrevious
    : `${ROTATE_RULE}; revokePrevious is ${typeof revokePrevious}, not a boolean`
}

/** The detail of a rotation's audit entry: the new kid, and the kids it revoked if it did. */
function rotatedDetail(kid: string, revoked: readonly string[] | undefined): string {
  const rotated = `token-signing key rotated; now signing with ${kid}`
  if (revoked === undefined) return rotated
  const kids = revoked.length === 0 ? 'none was stored' : revoked.join(', ')
  return `${rotated}; previous keys revoked with no grace (their tokens are refused from now on): ${kids}`
}

/**
 * Register the admin routes in their own context (hook and raw-body parser stay inside); refused
 * calls whose token a configured key signed are audited within `rateLimit` per client.
 */
export async function registerAdminRoutes(
  app: FastifyInstance,
  context: KbsRouteContext,
  rateLimit: { readonly max: number; readonly timeWindow: number },
): Promise<void> {
  const { store } = context
  const limiter = app.rateLimit(rateLimit)
  const refusals: Limiter = async (request, reply) => {
    await limiter.call(app, request, reply)
  }
  await app.register(async (admin) => {
    admin.addHook('onRequest', adminGuard(context, refusals))
    admin.addHook('onRequest', refuseUnreadInput)

    await admin.register((raw, _options, done) => {
      // Trustee's upload takes the body as bytes, whatever its Content-Type says.
      raw.removeAllContentTypeParsers()
      raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => {
        done(null, body)
      })
      raw.post(RESOURCE, async (request, reply) => {
        const path = resourcePathOf(request.params)
        if (path === undefined) return sendProblem(reply, BAD_PATH)
        const body = request.body
        if (!(body instanceof Uint8Array) || body.length === 0)
          return sendProblem(
            reply,
            problem(
              400,
              'SerdeError',
              'the resource body is empty: send the secret bytes as the body',
            ),
          )
        // The entry in the same write: no change is made that the audit log does not show.
        await store.resources.put(
          path,
          new Uint8Array(body),
          context.clock(),
          adminChange(context, `resource ${path} written (${body.length} bytes)`, {
            resource: path,
          }),
        )
        context.metrics.resourceWrites.inc({ resource_path: path })
        return reply.code(200).send()
      })
      done()
    })

    admin.delete(RESOURCE, async (request, reply) => {
      const path = resourcePathOf(request.params)
      if (path === undefined) return sendProblem(reply, BAD_PATH)
      if (
        !(await store.resources.delete(
          path,
          adminChange(context, `resource ${path} deleted`, { resource: path }),
        ))
      )
        return sendProblem(reply, problem(404, 'ResourceNotFound', `no resource ${path}`))
      context.metrics.resourceWrites.inc({ resource_path: path })
      return reply.code(200).send()
    })

    admin.get('/kbs/v0/admin/resources', async () => ({ resources: await store.resources.list() }))

    admin.put('/kbs/v0/admin/workloads/:name', async (request, reply) => {
      const name = workloadName(request.params)
      if (name === undefined) return sendProblem(reply, BAD_NAME)
      let definition: unknown
      // The path names the workload; a body without a name takes it from there.
      const body: unknown = request.body
      const named =
        typeof body === 'object' && body !== null && !Array.isArray(body) && !('name' in body)
          ? { name, ...body }
          : body
      try {
        definition = context.validateWorkload(named)
      } catch (error) {
        if (!isInitguardError(error)) throw error
        return sendProblem(
          reply,
          problem(
            400,
            'SerdeError',
            `workload ${name}: ${error.message}${error.hint === undefined ? '' : ` (${error.hint})`}`,
          ),
        )
      }
      const inner = (definition as { name?: unknown } | null)?.name
      if (inner !== undefined && inner !== name)
        return sendProblem(
          reply,
          problem(
            400,
            'SerdeError',
            `the definition names workload ${JSON.stringify(inner)}, the path ${name}: make them equal`,
          ),
        )
      // The entry in the same write (its version is the one the write takes).
      const stored = await wroteWorkloads(context, () =>
        store.workloads.put(name, definition, context.clock(), (version) =>
          adminChange(context, `workload ${name} version ${version} stored`, { workload: name }),
        ),
      )
      return reply.send(stored)
    })

    admin.get('/kbs/v0/admin/workloads', async () => ({ workloads: await store.workloads.list() }))

    admin.get('/kbs/v0/admin/workloads/:name', async (request, reply) => {
      const name = workloadName(request.params)
      if (name === undefined) return sendProblem(reply, BAD_NAME)
      const found = await store.workloads.inspect(name)
      if (found === undefined)
        return sendProblem(reply, problem(404, 'WorkloadNotFound', `no workload ${name}`))
      if (!('unusable' in found)) return reply.send(found)
      request.log.warn(
        { workload: found.name, version: found.version, reason: found.unusable.code },
        'admin read of a workload whose stored row does not authenticate',
      )
      return reply
        .code(409)
        .type('application/json; charset=utf-8')
        .send(unusableWorkloadBody(found))
    })

    admin.delete('/kbs/v0/admin/workloads/:name', async (request, reply) => {
      const name = workloadName(request.params)
      if (name === undefined) return sendProblem(reply, BAD_NAME)
      const deleted = await wroteWorkloads(context, () =>
        store.workloads.delete(
          name,
          context.clock(),
          adminChange(context, `workload ${name} deleted`, { workload: name }),
        ),
      )
      if (!deleted)
        return sendProblem(reply, problem(404, 'WorkloadNotFound', `no workload ${name}`))
      return reply.code(200).send()
    })

    admin.get('/kbs/v0/admin/audit', async (request, reply) => {
      const query = parseAuditQuery(request.query)
      if (query === undefined) return sendProblem(reply, BAD_AUDIT_QUERY)
      let entries
      try {
        entries = await store.audit.list(query)
      } catch (error) {
        if (!isInitguardError(error)) throw error
        const refusal = AUDIT_CURSOR_REFUSALS[error.code]
        if (refusal === undefined) throw error
        const detail = `${error.message} (${error.hint ?? 'page from after=0'})`
        return sendCodedProblem(reply, problem(refusal.status, refusal.variant, detail), error.code)
      }
      return reply.send({ entries })
    })

    registerAuditPrune(admin, context, (request) => admins.get(request))

    admin.post(ROTATE_ROUTE, async (request, reply) => {
      const revokePrevious = revokePreviousOf(request.body)
      if (typeof revokePrevious === 'string')
        return sendProblem(reply, problem(400, 'SerdeError', revokePrevious))
      const { kid, revoked } = await context.tokens.rotate(
        context.clock(),
        (newKid, kids) => adminChange(context, rotatedDetail(newKid, kids)),
        { revokePrevious },
      )
      return reply.send(revoked === undefined ? { kid } : { kid, revoked })
    })
  })
}

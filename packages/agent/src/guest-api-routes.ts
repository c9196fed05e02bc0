/**
 * The guest API's routes, on the paths CoCo's api-server-rest serves (guest-side.md §5):
 *
 * ```text
 * GET /aa/token?token_type=kbs            {"token": "<JWT>", "tee_keypair": "<PKCS#8 PEM>"}
 * GET /aa/evidence?runtime_data=<text>    the TEE's evidence JSON; REPORT_DATA = UTF-8 of <text>
 *                                         (at most 64 bytes), zero-padded, as api-server-rest does
 * GET /cdh/resource/<repo>/<type>/<tag>   the secret's plaintext (decrypted here)
 * GET /initdata                           {"keys": [...]}: the verified document's [data] keys
 * GET /initdata/<key>                     that entry's text, from the verified bytes in memory
 * GET /initdata/initdata.toml             the whole document, exactly as checked
 * ```
 *
 * When the agent runs unbound, every response carries `Initguard-Initdata: unbound; reason="…"`
 * and every JSON object body a member `"initguard-initdata": {"bound": false, "reason": "…"}`;
 * on the TEE simulator every response carries `Initguard-Tee: simulated`. Query parameters are
 * checked strictly: an unknown or repeated one is a 400, never ignored. Once the TEE's init-time
 * field changes, every path answers 503 with that reason ({@link GuestApiRefusal}).
 *
 * @module
 */
import { MalformedInputError, stringToUtf8, type InitguardError } from '@initguard/core'
import type { GuestTee } from '@initguard/tee'
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { REPORT_DATA_SIZE, checkedReport } from './agent-report.ts'
import { guestApiErrorBody, guestApiStatus } from './guest-api-errors.ts'
import { guestApiMarks, headerText } from './guest-api-marks.ts'
import { GuestApiRefusal } from './guest-api-refusal.ts'
import {
  INITDATA_DOCUMENT_FILE,
  type VerifiedDocuments,
} from './initdata-check/verified-documents.ts'
import type { AgentKbsAccess } from './kbs-access.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** What the guest API serves from. */
export interface GuestApiState {
  readonly initdata: VerifiedInitdata | UnboundInitdata
  /** The checked bytes, held since the check (never re-read from the source). */
  readonly documents: VerifiedDocuments
  readonly tee: GuestTee
  readonly kbs: AgentKbsAccess
}

function badRequest(code: `ERR_${string}`, message: string, hint: string): MalformedInputError {
  return new MalformedInputError(code, message, { hint })
}

/** The one query parameter `name` of a request that has no other, or a 400. */
function onlyQuery(request: FastifyRequest, name: string, hint: string): string {
  const query = request.query as Record<string, unknown>
  const keys = Object.keys(query)
  const value = query[name]
  if (keys.length !== 1 || typeof value !== 'string')
    throw badRequest(
      'ERR_AGENT_QUERY',
      `${request.url.split('?')[0] ?? ''} takes exactly one query parameter, ${name}, once`,
      hint,
    )
  return value
}

function noQuery(request: FastifyRequest): void {
  if (Object.keys(request.query as Record<string, unknown>).length > 0)
    throw badRequest('ERR_AGENT_QUERY', 'this path takes no query parameters', 'remove the query')
}

/** The JSON member every JSON object body carries when the agent runs unbound. */
export function unboundMember(state: GuestApiState): object | undefined {
  return 'unbound' in state.initdata ? { bound: false, reason: state.initdata.reason } : undefined
}

/** How the guest API answers: JSON with the unbound member, and failures as JSON bodies. */
function answers(state: GuestApiState) {
  const member = unboundMember(state)
  const json = (reply: FastifyReply, status: number, body: object): FastifyReply =>
    reply
      .status(status)
      .type('application/json')
      .send(
        member === undefined || Array.isArray(body)
          ? body
          : { ...body, 'initguard-initdata': member },
      )
  const fail = (reply: FastifyReply, error: unknown, status = guestApiStatus(error)) =>
    json(reply, status, guestApiErrorBody(error, status))
  return { json, fail }
}

/**
 * Fastify's `frameworkErrors`: its refusals before routing (a bad URL such as `/initdata/%zz`)
 * answered as the routes answer, with the marks the `onRequest` hook would have set.
 */
export function guestApiFrameworkErrors(
  state: GuestApiState,
): (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => void {
  const { fail } = answers(state)
  const marks = guestApiMarks(state)
  return (_error, _request, reply) => {
    void fail(
      reply.headers(marks),
      badRequest('ERR_AGENT_REQUEST', 'malformed request', 'see the guest API paths'),
      400,
    )
  }
}

/** A signal that fires when the client goes away before its answer is sent. */
function clientGone(reply: FastifyReply): AbortSignal {
  const controller = new AbortController()
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new Error('the client went away'))
  })
  return controller.signal
}

/**
 * Register the guest API on `app` (see the module comment); `refusal` latches the refused state
 * (give one to learn when it does).
 */
export function registerGuestApi(
  app: FastifyInstance,
  state: GuestApiState,
  refusal: GuestApiRefusal = new GuestApiRefusal(),
): void {
  const { json, fail } = answers(state)
  const marks = guestApiMarks(state)
  const session = (reply: FastifyReply) => {
    if (state.kbs.kind === 'session') return state.kbs.session
    const reason: InitguardError = state.kbs.reason
    fail(reply, reason, 503)
    return undefined
  }

  app.addHook('onRequest', async (_request, reply) => {
    reply.headers(marks)
    const refused = refusal.reason
    if (refused !== undefined) return fail(reply, refused, 503)
    return undefined
  })
  app.setNotFoundHandler((request, reply) =>
    fail(
      reply,
      badRequest(
        'ERR_AGENT_NO_SUCH_PATH',
        `no such path: ${request.method} ${headerText(request.url.split('?')[0] ?? '')}`,
        'the guest API serves GET /aa/token, /aa/evidence, /cdh/resource/<repo>/<type>/<tag>, /initdata[/<key>]',
      ),
      404,
    ),
  )
  app.setErrorHandler((error: unknown, _request, reply) => {
    // Not the guest that was checked: refuse everything from now on.
    if (refusal.consider(error)) return fail(reply, refusal.reason, 503)
    const status = (error as { statusCode?: unknown }).statusCode
    // Fastify's own refusals (a body on a GET that is too large, a bad URL) keep their 4xx.
    if (typeof status === 'number' && status >= 400 && status < 500)
      return fail(
        reply,
        badRequest('ERR_AGENT_REQUEST', 'malformed request', 'see the guest API paths'),
        status,
      )
    return fail(reply, error)
  })

  app.get('/aa/token', async (request, reply) => {
    const type = onlyQuery(request, 'token_type', 'ask for /aa/token?token_type=kbs')
    if (type !== 'kbs')
      throw badRequest(
        'ERR_AGENT_TOKEN_TYPE',
        `token_type ${JSON.stringify(type.slice(0, 40))} is not served: this agent has only KBS tokens`,
        'ask for /aa/token?token_type=kbs',
      )
    const kbs = session(reply)
    if (kbs === undefined) return reply
    // The TEE key goes out with the token, as upstream's AA does: whoever may read /aa/token can
    // decrypt every resource, so gating /cdh/resource means gating /aa/token too.
    const { token, teeKeyPem } = await kbs.token(clientGone(reply))
    return json(reply, 200, { token, tee_keypair: teeKeyPem })
  })

  app.get('/aa/evidence', async (request, reply) => {
    // runtime_data goes into REPORT_DATA as given, unhashed, as upstream's api-server-rest does.
    const text = onlyQuery(request, 'runtime_data', 'ask for /aa/evidence?runtime_data=<text>')
    const runtimeData = stringToUtf8(text)
    if (runtimeData.length > REPORT_DATA_SIZE)
      throw badRequest(
        'ERR_AGENT_RUNTIME_DATA',
        `runtime_data is ${runtimeData.length} bytes; REPORT_DATA holds at most ${REPORT_DATA_SIZE}`,
        'hash longer data first (e.g. SHA-384, 48 bytes) and send the digest',
      )
    const report = await checkedReport(state.tee, state.initdata, runtimeData, clientGone(reply))
    return json(reply, 200, report.evidence as object)
  })

  app.get('/cdh/resource/:repo/:type/:tag', async (request, reply) => {
    noQuery(request)
    const { repo, type, tag } = request.params as Record<string, string>
    // Loaded here, not at start-up: the init-data check comes first and must start fast.
    const { resourcePath } = await import('@initguard/kbs-protocol')
    const path = resourcePath(`${repo ?? ''}/${type ?? ''}/${tag ?? ''}`)
    const kbs = session(reply)
    if (kbs === undefined) return reply
    const secret = await kbs.resource(path, clientGone(reply))
    return reply.status(200).type('application/octet-stream').send(Buffer.from(secret))
  })

  const { documents } = state
  app.get('/initdata', async (request, reply) => {
    noQuery(request)
    return json(reply, 200, { keys: documents.keys() })
  })
  app.get('/initdata/*', async (request, reply) => {
    noQuery(request)
    const key = (request.params as Record<string, string>)['*'] ?? ''
    const value = key === INITDATA_DOCUMENT_FILE ? documents.document() : documents.get(key)
    if (value === undefined)
      return fail(
        reply,
        badRequest(
          'ERR_AGENT_INITDATA_KEY',
          `the verified init-data has no [data] key ${JSON.stringify(key.slice(0, 80))}`,
          `GET /initdata lists the keys; /initdata/${INITDATA_DOCUMENT_FILE} is the whole document`,
        ),
        404,
      )
    return reply.status(200).type('text/plain; charset=utf-8').send(Buffer.from(value))
  })
}

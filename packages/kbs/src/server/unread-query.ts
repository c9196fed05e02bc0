/**
 * The guest routes (`/auth`, `/attest`, `GET /kbs/v0/resource/…`) read no query string. Trustee
 * hands a resource request's query to its plugins and resource policy; this KBS has neither, so a
 * query a client sends (a `kbs://…?…` URI written for a Trustee plugin) would be ignored and the
 * plain resource released as if it had been honoured. It is refused instead, and audited like
 * every other refusal on these routes. A resource GET reads no body either (Fastify does not even
 * parse one): a body, whatever it says, is refused the same way.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import { problem, type KbsProblem } from './errors.ts'

/** The audit code of a refused query string. */
export const QUERY_UNREAD_CODE = 'ERR_KBS_QUERY_UNREAD'

/** The audit code of a refused body. */
export const BODY_UNREAD_CODE = 'ERR_KBS_BODY_UNREAD'

/** Whether `request` carries a body: a length other than 0, or any transfer coding. */
export function carriesBody(request: FastifyRequest): boolean {
  const { 'content-length': length, 'transfer-encoding': coding } = request.headers
  return coding !== undefined || (length !== undefined && length !== '0')
}

/** The query string of `request`, without its `?`; empty when there is none. */
export function queryOf(request: FastifyRequest): string {
  const at = request.url.indexOf('?')
  return at < 0 ? '' : request.url.slice(at + 1)
}

/**
 * The refusal of a guest request that carries a query string (even `?` alone with nothing after
 * it is not refused: it asks for nothing), or `undefined`. `route` names the route in the answer.
 */
export function unreadQueryRefusal(
  request: FastifyRequest,
  route: string,
): { readonly told: KbsProblem; readonly reason: string } | undefined {
  const query = queryOf(request)
  if (query === '') return undefined
  return {
    told: problem(
      400,
      'SerdeError',
      `${route} reads no query string, so ${JSON.stringify(query.slice(0, 100))} would be ignored (this KBS has no plugins or resource policy that take parameters): send the request without it`,
    ),
    reason: QUERY_UNREAD_CODE,
  }
}

/** The refusal of a guest request that carries a body where `route` reads none, or `undefined`. */
export function unreadBodyRefusal(
  request: FastifyRequest,
  route: string,
): { readonly told: KbsProblem; readonly reason: string } | undefined {
  if (!carriesBody(request)) return undefined
  return {
    told: problem(
      400,
      'SerdeError',
      `${route} reads no body, so it would be ignored: send the request without one`,
    ),
    reason: BODY_UNREAD_CODE,
  }
}

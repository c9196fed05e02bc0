/**
 * The guest routes (`/auth`, `/attest`, `GET /kbs/v0/resource/…`) read no query string. Trustee
 * hands a resource request's query to its plugins and resource policy; this KBS has neither, so a
 * query a client sends (a `kbs://…?…` URI written for a Trustee plugin) would be ignored and the
 * plain resource released as if it had been honoured. It is refused instead, and audited like
 * every other refusal on these routes.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'
import { problem, type KbsProblem } from './errors.ts'

/** The audit code of a refused query string. */
export const QUERY_UNREAD_CODE = 'ERR_KBS_QUERY_UNREAD'

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

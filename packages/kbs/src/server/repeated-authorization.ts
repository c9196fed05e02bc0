/**
 * One `Authorization` header per request. Node keeps the first of several and drops the rest
 * unseen, so a request with a good token and then anything else was served on the first alone: a
 * credential ignored, and a proxy in front that reads another copy (RFC 9110 §5.3: Authorization
 * is not a list, so which copy counts is anyone's guess) would judge another credential than the
 * KBS. Such a request is refused on every route that reads the header.
 *
 * @module
 */
import type { FastifyRequest } from 'fastify'

/**
 * Why `request` is refused for carrying more than one `Authorization` header, or `undefined` when
 * it carries at most one.
 */
export function repeatedAuthorization(request: FastifyRequest): string | undefined {
  const raw = request.raw.rawHeaders
  let count = 0
  // rawHeaders alternates names and values, names as the client spelt them.
  for (let at = 0; at < raw.length; at += 2)
    if (raw[at]?.toLowerCase() === 'authorization') count += 1
  if (count <= 1) return undefined
  return `the request carries ${String(count)} Authorization headers, and only one can be read: send exactly one (Authorization: Bearer <token>)`
}

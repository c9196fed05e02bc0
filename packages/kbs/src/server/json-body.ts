/**
 * The KBS's JSON body parser: Fastify's own (prototype poisoning refused), behind a bound on
 * nesting. `JSON.parse` itself copes with 100 000 levels, but whatever walks the value afterwards
 * (a serializer, a canonicalizer, a validator) may recurse and overflow the stack, and a deep
 * value costs far more memory than its bytes. No RCAR or admin message nests deeper than about
 * ten levels, so a body deeper than `limits.json-depth` (default 64) is refused before it is
 * parsed: 400 `SerdeError`, `ERR_KBS_JSON_TOO_DEEP`.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { MalformedInputError } from '@initguard/core'

const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * The deepest nesting of objects and arrays in JSON `text` (a top-level object is 1), counting
 * brackets outside strings; the scan stops as soon as it passes `stopAbove`. Malformed text is
 * scanned too (the parser refuses it after).
 */
export function jsonNestingDepth(
  text: string,
  stopAbove: number = Number.MAX_SAFE_INTEGER,
): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) inString = true
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++
      if (depth > deepest) {
        deepest = depth
        if (deepest > stopAbove) return deepest
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--
  }
  return deepest
}

/**
 * Replace the app's `application/json` parser with Fastify's default one (`__proto__` and
 * `constructor.prototype` keys refused, as Fastify's own default) behind the nesting
 * bound `maxDepth`. Register before the routes.
 */
export function registerJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    if (jsonNestingDepth(text, maxDepth) > maxDepth) {
      done(
        new MalformedInputError(
          'ERR_KBS_JSON_TOO_DEEP',
          `the JSON body nests objects and arrays deeper than ${String(maxDepth)} levels`,
          {
            details: { maxDepth },
            hint: 'no KBS message nests this deep: send the message as the protocol defines it (the server limit is limits.json-depth)',
          },
        ),
        undefined,
      )
      return
    }
    void parse(request, text, done)
  })
}

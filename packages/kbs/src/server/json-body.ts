/**
 * The KBS's JSON body parser: Fastify's own (prototype poisoning refused), behind core's key scan
 * (`scanJsonKeys`), which refuses before the parse:
 * - a key repeated in one object (400 `SerdeError`, `ERR_KBS_JSON_DUPLICATE_KEY`): `JSON.parse`
 *   keeps the last copy, so a workload definition with `"allowDebug": false, …, "allowDebug":
 *   true` was stored allowing debug, and one with two `resources` lists kept the second;
 * - nesting deeper than `limits.json-depth`, default 64 (400, `ERR_KBS_JSON_TOO_DEEP`).
 *   `JSON.parse` itself copes with 100 000 levels, but whatever walks the value afterwards (a
 *   serializer, a canonicalizer, a validator) may recurse and overflow the stack, and a deep value
 *   costs far more memory than its bytes. No RCAR or admin message nests deeper than about ten.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import { isInitguardError, scanJsonKeys, type StrictJsonOptions } from '@initguard/core'

/**
 * Replace the app's `application/json` parser with Fastify's default one (`__proto__` and
 * `constructor.prototype` keys refused, as Fastify's own default) behind the key scan with the
 * nesting bound `maxDepth`. Register before the routes.
 */
export function registerJsonBodyParser(app: FastifyInstance, maxDepth: number): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  const scan: StrictJsonOptions = {
    what: 'the JSON body',
    syntaxCode: 'ERR_KBS_JSON',
    duplicateKeyCode: 'ERR_KBS_JSON_DUPLICATE_KEY',
    tooDeepCode: 'ERR_KBS_JSON_TOO_DEEP',
    maxDepth,
    hints: {
      duplicateKey: 'a key may appear once per object: send each member once',
      tooDeep:
        'no KBS message nests this deep: send the message as the protocol defines it (the server limit is limits.json-depth)',
    },
  }
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8')
    try {
      scanJsonKeys(text, scan)
    } catch (error) {
      if (!isInitguardError(error) || error.code !== scan.syntaxCode) {
        done(error as Error, undefined)
        return
      }
      // Not JSON before the repeat the scan saw: refused as Fastify refuses any text that is not
      // JSON, so that one fault has one answer; were Fastify to accept it, the scan's refusal stands.
      void parse(request, text, (parseError) => {
        done(parseError ?? error, undefined)
      })
      return
    }
    void parse(request, text, done)
  })
}

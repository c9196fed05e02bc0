/**
 * The KBS's JSON body parser: Fastify's own (prototype poisoning refused), behind core's key scan
 * (`scanJsonKeys`), which refuses before the parse:
 * - a key repeated in one object (400 `SerdeError`, `ERR_KBS_JSON_DUPLICATE_KEY`): `JSON.parse`
 *   keeps the last copy, so a workload definition with `"allowDebug": false, …, "allowDebug":
 *   true` was stored allowing debug, and one with two `resources` lists kept the second;
 * - nesting deeper than `limits.json-depth`, default 64 (400, `ERR_KBS_JSON_TOO_DEEP`).
 *   `JSON.parse` itself copes with 100 000 levels, but whatever walks the value afterwards (a
 *   serializer, a canonicalizer, a validator) may recurse and overflow the stack, and a deep value
 *   costs far more memory than its bytes. No RCAR or admin message nests deeper than about ten;
 * - bytes that are not UTF-8 (400, `ERR_KBS_JSON_UTF8`), and a `charset` other than UTF-8
 *   (400, `ERR_KBS_JSON_CHARSET`): the body was decoded as UTF-8 whatever it said, each invalid
 *   byte becoming U+FFFD, so a workload whose init data held a Latin-1 `é` was stored with
 *   another text than the one sent. JSON on the wire is UTF-8 (RFC 8259 §8.1);
 * - a string or key with an unpaired surrogate escape (`"\ud800"`: 400,
 *   `ERR_KBS_JSON_LONE_SURROGATE`). It is valid JSON syntax but no text (RFC 8259 §8.2): it has no
 *   UTF-8 bytes, so the KBS read it as U+FFFD wherever it needed bytes. An init-data body sent to
 *   `/attest` with one was hashed as another document than the one sent, and a workload whose
 *   init-data held one was stored with one text and bound to the digest of another.
 *
 * @module
 */
import type { FastifyInstance } from 'fastify'
import {
  MalformedInputError,
  isInitguardError,
  scanJsonKeys,
  utf8ToString,
  type StrictJsonOptions,
} from '@initguard/core'

/** The `charset` parameter of a Content-Type, lower-cased; undefined when there is none. */
function charsetOf(contentType: string | undefined): string | undefined {
  const match = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i.exec(contentType ?? '')
  return match === null ? undefined : (match[1] ?? match[2] ?? '').toLowerCase()
}

/**
 * The body as text: UTF-8, strictly.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_JSON_CHARSET`, `ERR_KBS_JSON_UTF8`.
 */
function bodyText(contentType: string | undefined, body: Buffer): string {
  const charset = charsetOf(contentType)
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
    throw new MalformedInputError(
      'ERR_KBS_JSON_CHARSET',
      `the JSON body is declared charset ${JSON.stringify(charset.slice(0, 32))}: the KBS reads JSON as UTF-8 only`,
      { hint: 'send the body as UTF-8, with charset=utf-8 or no charset' },
    )
  try {
    return utf8ToString(body, { field: 'the JSON body' })
  } catch (cause) {
    throw new MalformedInputError('ERR_KBS_JSON_UTF8', 'the JSON body is not valid UTF-8', {
      cause,
      details: { length: body.length },
      hint: 'send the body as UTF-8 (JSON on the wire is UTF-8, RFC 8259)',
    })
  }
}

/** An escape of a UTF-16 surrogate: only a body with one can hold a lone surrogate (bytes are UTF-8). */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/
/** A high surrogate not followed by a low one, or a low surrogate not preceded by a high one. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** The JSON path of the first string or key of `value` with a lone surrogate, if any. */
function loneSurrogateAt(value: unknown, path = '$'): string | undefined {
  if (typeof value === 'string') return LONE_SURROGATE.test(value) ? path : undefined
  if (typeof value !== 'object' || value === null) return undefined
  if (Array.isArray(value)) {
    for (const [i, item] of value.entries()) {
      const found = loneSurrogateAt(item, `${path}[${String(i)}]`)
      if (found !== undefined) return found
    }
    return undefined
  }
  for (const [key, item] of Object.entries(value)) {
    const at = `${path}[${JSON.stringify(key)}]`
    if (LONE_SURROGATE.test(key)) return at
    const found = loneSurrogateAt(item, at)
    if (found !== undefined) return found
  }
  return undefined
}

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
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
    let text: string
    try {
      text = bodyText(request.headers['content-type'], body as Buffer)
    } catch (error) {
      done(error as Error, undefined)
      return
    }
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
    // The walk only for a body with a surrogate escape: the others cannot hold a lone one.
    if (!SURROGATE_ESCAPE.test(text)) {
      void parse(request, text, done)
      return
    }
    void parse(request, text, (error, value) => {
      const at = error === null ? loneSurrogateAt(value) : undefined
      if (at === undefined) {
        done(error, value)
        return
      }
      done(
        new MalformedInputError(
          'ERR_KBS_JSON_LONE_SURROGATE',
          `the JSON body has an unpaired UTF-16 surrogate escape (\\uD800–\\uDFFF) at ${at}: it stands for no character and has no UTF-8 bytes`,
          {
            details: { field: at },
            hint: 'send text only: escape a character outside the BMP as its surrogate pair, or send it as UTF-8',
          },
        ),
        undefined,
      )
    })
  })
}

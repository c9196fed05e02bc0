/**
 * Property tests of the KBS JSON body parser through Fastify: any body is either the value it
 * spells (200, equal to `JSON.parse`) or a 4xx with a stable code; never a 500. A key repeated in
 * one object, however it is escaped or spaced, is refused; so is nesting past the bound; a body
 * with neither is accepted.
 */
import Fastify, { type FastifyInstance } from 'fastify'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseStrictJson } from '@initguard/core'
import { jsonMemberAt, jsonMemberPaths, withJsonMember } from '@initguard/testkit'
import { problemForError } from './errors.ts'
import { registerJsonBodyParser } from './json-body.ts'

const MAX_DEPTH = 6
/** Characters a one-character edit writes: JSON's structure, escapes and number parts. */
const EDITS = '{}[],:"\\ 0aeE.-+u'
const BODY_LIMIT = 4096

/** Fastify's own codes for a body it refuses, and ours. */
const REFUSALS = new Set([
  'ERR_KBS_JSON',
  'ERR_KBS_JSON_DUPLICATE_KEY',
  'ERR_KBS_JSON_TOO_DEEP',
  'FST_ERR_CTP_INVALID_JSON_BODY',
  'FST_ERR_CTP_EMPTY_JSON_BODY',
  'FST_ERR_CTP_BODY_TOO_LARGE',
  'FST_ERR_CTP_INVALID_MEDIA_TYPE',
  'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
])

let app: FastifyInstance

beforeAll(async () => {
  app = Fastify({ bodyLimit: BODY_LIMIT })
  registerJsonBodyParser(app, MAX_DEPTH)
  app.setErrorHandler((error, _request, reply) => {
    const { problem, unexpected } = problemForError(error)
    return reply.code(unexpected ? 500 : problem.status).send({
      code: (error as { code?: unknown }).code,
      message: (error as Error).message,
    })
  })
  app.post('/', (request) => ({ body: request.body }))
  await app.ready()
})
afterAll(async () => {
  await app.close()
})

interface Answer {
  readonly status: number
  readonly body: unknown
  readonly code: unknown
}

async function post(payload: string, contentType = 'application/json'): Promise<Answer> {
  const response = await app.inject({
    method: 'POST',
    url: '/',
    headers: { 'content-type': contentType },
    payload,
  })
  const json = response.json<{ body?: unknown; code?: unknown }>()
  return { status: response.statusCode, body: json.body, code: json.code }
}

/**
 * The answer is the value (`JSON.parse`'s, or the text itself for Fastify's text/plain parser) or
 * a stable 4xx refusal; returns whether it was accepted.
 */
function valueOrRefusal(answer: Answer, text: string, asText = false): boolean {
  if (answer.status === 200) {
    // Through the echo: what the route saw, serialised (-0 answers as 0, 1e999 as null).
    const expected: unknown = asText ? text : JSON.parse(JSON.stringify(JSON.parse(text)))
    expect(answer.body).toEqual(expected)
    return true
  }
  expect(answer.status, `${String(answer.code)} for ${text.slice(0, 80)}`).toBeGreaterThanOrEqual(
    400,
  )
  expect(answer.status).toBeLessThan(500)
  expect(REFUSALS, String(answer.code)).toContain(answer.code)
  return false
}

/** The strict tree reader, another implementation than the key scan, accepts `text` too. */
function strictReaderAccepts(text: string): void {
  parseStrictJson(text, { what: 'body', syntaxCode: 'ERR_TEST', maxDepth: MAX_DEPTH })
}

/** Containers on the deepest path: a top-level object or array is 1. */
function depth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0
  return 1 + Math.max(0, ...Object.values(value).map(depth))
}

/** JSON text of `value` with escaped keys and odd spacing; `twice` repeats one object's key. */
interface Spelling {
  readonly escape: readonly boolean[]
  readonly space: string
  readonly twice: number
}

function spell(value: unknown, how: Spelling): { text: string; repeated: boolean } {
  let objectIndex = 0
  let keyIndex = 0
  let repeated = false
  const key = (k: string): string => {
    const escaped = how.escape[keyIndex++ % Math.max(1, how.escape.length)] ?? false
    if (!escaped) return JSON.stringify(k)
    // Every UTF-16 code unit as \uXXXX (a surrogate pair as two escapes, as JSON spells it).
    const units = Array.from({ length: k.length }, (_, i) => k.charCodeAt(i))
    return `"${units.map((u) => `\\u${u.toString(16).padStart(4, '0')}`).join('')}"`
  }
  const walk = (v: unknown): string => {
    if (Array.isArray(v)) return `[${how.space}${v.map(walk).join(`,${how.space}`)}]`
    if (typeof v === 'object' && v !== null) {
      const entries = Object.entries(v)
      const members = entries.map(([k, item]) => `${key(k)}${how.space}:${walk(item)}`)
      const first = entries[0]
      if (objectIndex++ === how.twice && first !== undefined) {
        members.push(`${key(first[0])}:${walk(first[1])}`)
        repeated = true
      }
      return `{${how.space}${members.join(`,${how.space}`)}${how.space}}`
    }
    return JSON.stringify(v)
  }
  return { text: walk(value), repeated }
}

const spelling = fc.record({
  escape: fc.array(fc.boolean(), { maxLength: 4 }),
  space: fc.constantFrom('', ' ', '\n', '\t \r\n'),
  twice: fc.integer({ min: -1, max: 6 }),
})
/** Keys Fastify refuses anywhere (prototype poisoning) stay out: they are tested on their own. */
const value = fc
  .jsonValue({ maxDepth: 8 })
  .filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v)))

describe('the KBS JSON body parser', () => {
  it('any text: the value it spells or a stable 4xx refusal', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.string(), fc.json(), fc.string({ unit: 'binary' })),
        async (text) => {
          const accepted = valueOrRefusal(await post(text), text)
          // What it accepts the strict tree reader (another implementation) accepts too.
          if (accepted) strictReaderAccepts(text)
        },
      ),
      { numRuns: 200 },
    )
  })

  it('JSON however spelt: accepted exactly unless a key repeats or it nests too deep', async () => {
    await fc.assert(
      fc.asyncProperty(value, spelling, async (v, how) => {
        const { text, repeated } = spell(v, how)
        fc.pre(text.length < BODY_LIMIT)
        const answer = await post(text)
        const accepted = valueOrRefusal(answer, text)
        const tooDeep = depth(v) > MAX_DEPTH
        expect(accepted, `${String(answer.code)} for ${text.slice(0, 120)}`).toBe(
          !repeated && !tooDeep,
        )
        if (repeated && !tooDeep) expect(answer.code).toBe('ERR_KBS_JSON_DUPLICATE_KEY')
        if (tooDeep && !repeated) expect(answer.code).toBe('ERR_KBS_JSON_TOO_DEEP')
      }),
      { numRuns: 300 },
    )
  })

  it('a valid body with one character changed: the value it spells or a stable 4xx refusal', async () => {
    await fc.assert(
      fc.asyncProperty(value, fc.nat(), fc.nat({ max: EDITS.length - 1 }), async (v, i, e) => {
        const c = EDITS.charAt(e)
        const text = JSON.stringify(v)
        const at = i % Math.max(1, text.length)
        const changed = text.slice(0, at) + c + text.slice(at + 1)
        const accepted = valueOrRefusal(await post(changed), changed)
        if (accepted) strictReaderAccepts(changed)
      }),
      { numRuns: 300 },
    )
  })

  it('any content type and size: accepted only as application/json within the limit', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(
          'application/json',
          'application/json; charset=utf-8',
          'Application/JSON',
          'application/json-patch+json',
          'text/json',
          'application/jsonx',
          'text/plain',
          'application/octet-stream',
        ),
        fc.integer({ min: 0, max: 2 * BODY_LIMIT }),
        async (contentType, size) => {
          const text = JSON.stringify({ pad: 'x'.repeat(size) })
          const answer = await post(text, contentType)
          const json = /^application\/json($|;)/i.test(contentType)
          const plain = contentType === 'text/plain'
          const accepted = valueOrRefusal(answer, text, plain)
          expect(accepted).toBe((json || plain) && text.length <= BODY_LIMIT)
        },
      ),
      { numRuns: 100 },
    )
  })

  it('a __proto__ key, or constructor.prototype, anywhere: refused with 400', async () => {
    const objects = fc
      .dictionary(fc.string({ maxLength: 4 }), fc.jsonValue({ maxDepth: 3 }), { minKeys: 1 })
      .filter((v) => !/"(__proto__|constructor)"/.test(JSON.stringify(v)))
    await fc.assert(
      fc.asyncProperty(
        objects,
        fc.nat(),
        fc.constantFrom<[string, unknown]>(
          ['__proto__', { polluted: true }],
          ['__proto__', null],
          ['constructor', { prototype: { polluted: true } }],
        ),
        async (v, i, [key, poison]) => {
          const places = [[], ...jsonMemberPaths(v)].filter((path) => {
            const target = jsonMemberAt(v, path)
            return typeof target === 'object' && target !== null && !Array.isArray(target)
          })
          const path = places[i % places.length] ?? []
          const text = JSON.stringify(withJsonMember(v, [...path, key], poison))
          fc.pre(text.length < BODY_LIMIT)
          const answer = await post(text)
          expect(answer.status, text).toBe(400)
          expect(valueOrRefusal(answer, text)).toBe(false)
        },
      ),
      { numRuns: 100 },
    )
  })
})

import { describe, expect, it } from 'vitest'
import Fastify from 'fastify'
import { problemForError } from './errors.ts'
import { registerJsonBodyParser } from './json-body.ts'

/** An app with the parser (nesting bound `maxDepth`) that echoes the body, or the error's code, message and field. */
function echoing(maxDepth: number) {
  const app = Fastify()
  registerJsonBodyParser(app, maxDepth)
  app.setErrorHandler((error, _request, reply) =>
    reply.code(problemForError(error).problem.status).send({
      code: (error as { code?: unknown }).code,
      message: (error as Error).message,
      field: (error as { details?: { field?: unknown } }).details?.field,
    }),
  )
  app.post('/', (request) => request.body)
  const post = (payload: string) =>
    app.inject({
      method: 'POST',
      url: '/',
      headers: { 'content-type': 'application/json' },
      payload,
    })
  return { app, post }
}

describe('registerJsonBodyParser', () => {
  it('refuses __proto__ and constructor.prototype keys with 400, as Fastify does by default', async () => {
    const app = Fastify()
    registerJsonBodyParser(app, 64)
    app.post('/', (request) => ({ keys: Object.keys(request.body as object) }))
    for (const payload of [
      '{"constructor":{"prototype":{"polluted":1}}}',
      '{"__proto__":{"polluted":1}}',
      '{"a":[{"constructor":{"prototype":{"polluted":1}}}]}',
    ]) {
      const response = await app.inject({
        method: 'POST',
        url: '/',
        headers: { 'content-type': 'application/json' },
        payload,
      })
      expect(response.statusCode, payload).toBe(400)
    }
    const fine = await app.inject({ method: 'POST', url: '/', payload: { constructor: 1 } })
    expect(fine.json()).toEqual({ keys: ['constructor'] })
    await app.close()
  })

  it('refuses a repeated key (400 ERR_KBS_JSON_DUPLICATE_KEY) and nesting past the bound before parsing', async () => {
    const { app, post } = echoing(4)
    const repeated = await post('{"snp":{"allowDebug":false,"vmpl":0,"allowDebug":true}}')
    expect(repeated.statusCode).toBe(400)
    expect(repeated.json()).toMatchObject({
      code: 'ERR_KBS_JSON_DUPLICATE_KEY',
      message: expect.stringContaining('"allowDebug"') as unknown,
    })
    expect((await post('[[[[[1]]]]]')).json()).toMatchObject({ code: 'ERR_KBS_JSON_TOO_DEEP' })
    expect((await post('[[[[1]]]]')).statusCode).toBe(200)
    // The same key in sibling objects, or as a value, is not a repeat.
    const fine = await post('{"a":{"k":1},"b":{"k":"a"},"c":["a","a"]}')
    expect(fine.json()).toEqual({ a: { k: 1 }, b: { k: 'a' }, c: ['a', 'a'] })
    expect((await post('{"a":1,')).statusCode).toBe(400)
    // Not JSON before a repeat: one fault, one answer (Fastify's), repeat or not.
    for (const text of ['{"a":01}', '{"a":01,"a":2}'])
      expect((await post(text)).json(), text).toMatchObject({
        code: 'FST_ERR_CTP_INVALID_JSON_BODY',
      })
    await app.close()
  })

  it('refuses an unpaired surrogate escape in a string or key (400 ERR_KBS_JSON_LONE_SURROGATE), naming where', async () => {
    const { app, post } = echoing(64)
    for (const [text, field] of [
      ['{"init-data":{"body":"x\\ud800"}}', '$["init-data"]["body"]'],
      ['{"a":["ok","\\uDC00y"]}', '$["a"][1]'],
      ['{"\\udbff":1}', '$["\\udbff"]'],
      ['"\\ude00\\ud83d"', '$'],
    ] as const) {
      const answer = await post(text)
      expect({ text, status: answer.statusCode }).toEqual({ text, status: 400 })
      expect(answer.json(), text).toMatchObject({ code: 'ERR_KBS_JSON_LONE_SURROGATE', field })
    }
    // A pair is one character; an escaped backslash before "ud800" is no escape of a surrogate.
    for (const text of ['{"a":"\\ud83d\\ude00"}', '{"a":"\\\\ud800"}', '{"a":"\u{1F600}"}'])
      expect((await post(text)).json(), text).toEqual(JSON.parse(text))
    await app.close()
  })
})

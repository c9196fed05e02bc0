/**
 * `kbs admin rotate-signing-key --revoke-previous` (after a leak) against a real KBS: the answer
 * names the kids revoked, the JWKS keeps only the new key, the audit log records it; without the
 * flag the previous key stays published. Against a stand-in that ignores the body (a KBS from
 * before the option): refused (exit 3), never reported as revoked. The flag applies to nothing
 * else.
 */
import { createServer, type IncomingMessage } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonError, runInProcess, startSimKbs, type InProcessSimKbs } from './cli-test-support.ts'

let kbs: InProcessSimKbs

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-rotate-')
})

afterAll(async () => {
  await kbs.close()
})

async function rotated(...args: string[]): Promise<Record<string, unknown>> {
  const run = await kbs.admin('rotate-signing-key', ...args, '--json')
  expect(run.code, run.stderr).toBe(0)
  return (JSON.parse(run.stdout) as { result: Record<string, unknown> }).result
}

async function publishedKids(): Promise<string[]> {
  const response = await kbs.kbs.app.inject({ method: 'GET', url: '/.well-known/jwks.json' })
  return response.json<{ keys: { kid: string }[] }>().keys.map((key) => key.kid)
}

describe('kbs admin rotate-signing-key on a real KBS', () => {
  it('keeps the previous key without --revoke-previous, revokes every previous one with it, and the KBS audits it', async () => {
    const first = await rotated()
    const second = await rotated()
    expect(Object.keys(second)).toEqual(['kid'])
    expect(await publishedKids()).toEqual([second['kid'], first['kid']])
    const revoking = await rotated('--revoke-previous')
    expect(revoking).toEqual({
      kid: expect.any(String) as string,
      revoked: [first['kid'], second['kid']].sort(),
    })
    expect(await publishedKids()).toEqual([revoking['kid']])
    const audit = await kbs.admin('audit', '--json')
    const { entries } = (JSON.parse(audit.stdout) as { result: { entries: { detail: string }[] } })
      .result
    expect(entries.at(-1)?.detail).toMatch(
      /previous keys revoked with no grace \(their tokens are refused from now on\): /,
    )
    for (const kid of [first['kid'], second['kid']])
      expect(entries.at(-1)?.detail).toContain(String(kid))
  })

  it('--revoke-previous applies to rotate-signing-key only', async () => {
    const run = await kbs.admin('resource', 'list', '--revoke-previous', '--json')
    expect(run.code).toBe(2)
    expect(jsonError(run).code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })
})

describe('kbs admin rotate-signing-key --revoke-previous against a KBS that ignores it', () => {
  it('is refused (exit 3, ERR_KBS_ADMIN_ANSWER), after sending {"revokePrevious": true}', async () => {
    const bodies: string[] = []
    const server = createServer((request: IncomingMessage, response) => {
      let body = ''
      request.on('data', (chunk: Buffer) => (body += chunk.toString()))
      request.on('end', () => {
        bodies.push(body)
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end('{"kid":"new"}')
      })
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    try {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      const run = await runInProcess([
        'kbs',
        'admin',
        '--url',
        `http://127.0.0.1:${String(port)}`,
        '--admin-key',
        kbs.at('admin.key'),
        'rotate-signing-key',
        '--revoke-previous',
        '--json',
      ])
      expect(run.code).toBe(3)
      expect(jsonError(run).code).toBe('ERR_KBS_ADMIN_ANSWER')
      expect(bodies).toEqual(['{"revokePrevious":true}'])
    } finally {
      await new Promise((resolve) => server.close(resolve))
    }
  })
})

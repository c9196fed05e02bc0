/**
 * `kbs admin` against what can go wrong around it: a KBS
 * stand-in that answers a redirect, an empty or non-JSON success, hostile text, over plain HTTP,
 * and with a `--url` or `--admin-key` that is not what it should be. Each is refused with its code
 * and exit code, or warned about, never reported as done when nothing was done.
 */
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonError, kbsKeygen, runInProcess, type CliRun } from './cli-test-support.ts'

const dir = await mkdtemp(join(tmpdir(), 'kbs-admin-cli-'))
const at = (name: string): string => join(dir, name)
afterAll(async () => rm(dir, { recursive: true, force: true }))

/** What the stand-in answers: a status, headers and a body. */
interface Answer {
  readonly status: number
  readonly headers?: Record<string, string>
  readonly body?: string
}

/** A KBS stand-in on plain HTTP that answers `answer` and records every request it gets. */
async function standIn(
  answer: (request: IncomingMessage) => Answer,
): Promise<{ url: string; seen: IncomingMessage[]; server: Server }> {
  const seen: IncomingMessage[] = []
  const server = createServer((request, response) => {
    seen.push(request)
    request.resume()
    request.on('end', () => {
      const { status, headers = {}, body } = answer(request)
      response.writeHead(status, headers)
      response.end(body)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { url: `http://127.0.0.1:${String(port)}`, seen, server }
}

const servers: Server[] = []
const JSON_TYPE = { 'content-type': 'application/json' }
let elsewhere: Awaited<ReturnType<typeof standIn>>
let redirecting: Awaited<ReturnType<typeof standIn>>

beforeAll(async () => {
  await kbsKeygen(at('admin'))
  elsewhere = await standIn(() => ({ status: 200, headers: JSON_TYPE, body: '{"resources":[]}' }))
  redirecting = await standIn(() => ({
    status: 307,
    headers: { location: `${elsewhere.url}/kbs/v0/admin/resources` },
  }))
  servers.push(elsewhere.server, redirecting.server)
})

afterAll(async () => {
  for (const server of servers) await new Promise((resolve) => server.close(resolve))
})

const admin = (url: string, ...args: string[]): Promise<CliRun> =>
  runInProcess(['kbs', 'admin', '--url', url, '--admin-key', at('admin.key'), ...args])

describe('kbs admin against a KBS that answers the unexpected', () => {
  it('a redirect is never taken for success: not for a write, not followed for a read', async () => {
    for (const args of [
      ['resource', 'delete', '--path', 'default/app/key'],
      ['workload', 'delete', '--name', 'web'],
      ['rotate-signing-key'],
      ['resource', 'list'],
    ]) {
      const run = await admin(redirecting.url, ...args, '--json')
      expect({ args, code: run.code }).toEqual({ args, code: 6 })
      expect(jsonError(run).code).toBe('ERR_KBS_REDIRECT')
    }
    // The token went to the URL given, and nowhere else.
    expect(elsewhere.seen).toEqual([])
  })

  it('a success without the JSON object the action answers with is refused (exit 3), not a crash', async () => {
    const cases: [Answer, string[]][] = [
      [{ status: 200 }, ['rotate-signing-key']],
      [{ status: 204 }, ['workload', 'list']],
      [{ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>' }, ['audit']],
      [{ status: 200, headers: JSON_TYPE, body: '[1]' }, ['resource', 'list']],
    ]
    for (const [answer, args] of cases) {
      const kbs = await standIn(() => answer)
      servers.push(kbs.server)
      const run = await admin(kbs.url, ...args, '--json')
      expect({ args, code: run.code }).toEqual({ args, code: 3 })
      expect(jsonError(run).code).toBe('ERR_KBS_ADMIN_ANSWER')
    }
  })

  it('shows what a KBS or a guest wrote with every control and format character escaped', async () => {
    const hostile = 'x\u001b[2J\u202egnp.exe\u200b\u0085\u2028y'
    const entries = [{ id: 1, action: 'resource', outcome: 'denied', detail: hostile }]
    const kbs = await standIn((request) =>
      request.url?.startsWith('/kbs/v0/admin/audit') === true
        ? { status: 200, headers: JSON_TYPE, body: JSON.stringify({ entries }) }
        : {
            status: 400,
            headers: JSON_TYPE,
            body: JSON.stringify({ type: 'x/SerdeError', detail: hostile }),
          },
    )
    servers.push(kbs.server)
    // eslint-disable-next-line no-control-regex -- control characters are what is looked for
    const UNSAFE = /[\u001b\u202e\u200b\u0085\u2028]/u
    const text = await admin(kbs.url, 'audit')
    expect(text.code).toBe(0)
    expect(text.stdout).not.toMatch(UNSAFE)
    expect(text.stdout).toContain('\\u202e')
    const json = await admin(kbs.url, 'audit', '--json')
    expect(json.stdout).not.toMatch(UNSAFE)
    // The same JSON value, spelt safely.
    expect((JSON.parse(json.stdout) as { result: unknown }).result).toEqual({ entries })
    const refused = await admin(kbs.url, 'resource', 'list')
    expect(refused.code).toBe(2)
    expect(refused.stderr).not.toMatch(UNSAFE)
    expect(refused.stderr).toContain('\\u001b[2J')
  })

  it('warns that a plain http:// URL sends the admin token unencrypted', async () => {
    const text = await admin(elsewhere.url, 'resource', 'list')
    expect(text.code).toBe(0)
    expect(text.stderr).toMatch(/warning: .*plain HTTP.*admin token/)
    const json = await admin(elsewhere.url, 'resource', 'list', '--json')
    expect((JSON.parse(json.stdout) as { warnings: string[] }).warnings).toEqual([
      expect.stringMatching(/plain HTTP/),
    ])
  })
})

describe('kbs admin options', () => {
  it('refuses a --url with user info, a query or a fragment before sending anything', async () => {
    const before = elsewhere.seen.length
    const base = elsewhere.url
    for (const url of [
      `${base}/?x=1`,
      `${base}#f`,
      base.replace('http://', 'http://user:pw@'),
      `${base}/kbs?`,
    ]) {
      const run = await admin(url, 'resource', 'list', '--json')
      expect({ url, code: run.code }).toEqual({ url, code: 2 })
      expect(jsonError(run).code).toBe('ERR_OPTION_VALUE')
    }
    expect(elsewhere.seen.length).toBe(before)
    // A path prefix (a KBS behind a proxy path) is a URL like any other.
    expect((await admin(`${base}/prefix/`, 'resource', 'list')).code).toBe(0)
    expect(elsewhere.seen.at(-1)?.url).toBe('/prefix/kbs/v0/admin/resources')
  })

  it('says what is wrong with an admin key that cannot sign: encrypted, RSA, not a key', async () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    await writeFile(
      at('encrypted.key'),
      privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'x' }),
    )
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey
    await writeFile(at('rsa.key'), rsa.export({ type: 'pkcs8', format: 'pem' }))
    await writeFile(at('not.key'), 'hello')
    for (const [file, message, hint] of [
      ['encrypted.key', /is an encrypted private key/, /openssl pkey/],
      ['rsa.key', /only Ed25519 \(EdDSA\) and P-256/, /kbs keygen/],
      ['not.key', /is not a PEM private key/, /kbs keygen/],
    ] as const) {
      const run = await runInProcess([
        ...['kbs', 'admin', '--url', elsewhere.url, '--admin-key', at(file)],
        ...['resource', 'list', '--json'],
      ])
      expect({ file, code: run.code }).toEqual({ file, code: 3 })
      const error = jsonError(run)
      expect(error.code).toBe('ERR_KBS_ADMIN_KEY')
      expect(error.message).toMatch(message)
      expect(error.hint).toMatch(hint)
    }
  })

  it('warns when the admin private key may be read by others', async () => {
    await kbsKeygen(at('loose'))
    await chmod(at('loose.key'), 0o644)
    const run = await runInProcess([
      ...['kbs', 'admin', '--url', elsewhere.url, '--admin-key', at('loose.key')],
      ...['resource', 'list'],
    ])
    expect(run.code).toBe(0)
    expect(run.stderr).toMatch(
      /warning: --admin-key .*loose\.key may be read by others \(mode 0644\)/,
    )
    await writeFile(at('loose.key'), await readFile(at('loose.key')), { mode: 0o600 })
    await chmod(at('loose.key'), 0o600)
    const tight = await runInProcess([
      ...['kbs', 'admin', '--url', elsewhere.url, '--admin-key', at('loose.key')],
      ...['resource', 'list'],
    ])
    expect(tight.stderr).not.toMatch(/may be read by others/)
  })
})

describe('kbs serve on an address it cannot listen on', () => {
  it('is refused with the address and why (exit 2, ERR_KBS_LISTEN), not an internal error', async () => {
    const taken = createServer()
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
    servers.push(taken)
    const address = taken.address()
    const port = typeof address === 'object' && address !== null ? address.port : 0
    const serve = (listen: string): Promise<CliRun> =>
      runInProcess([
        ...['kbs', 'serve', '--data-dir', at(`serve-${String(Math.random()).slice(2)}`)],
        ...['--listen', listen, '--admin-public-key', at('admin.pub'), '--insecure-http'],
      ])
    const inUse = await serve(`127.0.0.1:${String(port)}`)
    expect(inUse.code, inUse.stderr).toBe(2)
    expect(inUse.stderr).toContain(
      `cannot listen on 127.0.0.1:${String(port)}: the address is in use`,
    )
    expect(inUse.stderr).toContain('code: ERR_KBS_LISTEN')
    expect(inUse.stderr).not.toContain('internal error')
    // An address this host does not have (TEST-NET-1).
    const notHere = await serve('192.0.2.1:8443')
    expect(notHere.code, notHere.stderr).toBe(2)
    expect(notHere.stderr).toContain('code: ERR_KBS_LISTEN')
  })
})

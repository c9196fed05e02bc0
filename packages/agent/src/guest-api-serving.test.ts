/**
 * How the guest API serves, apart from its routes: the marks on every answer, including the
 * refusals Node and Fastify write before any route runs; what a listen address really bound; and
 * the Unix socket's path (a live, stale, foreign or symlinked socket file), also as the only
 * listener (`listen: 'none'`). Real parts only: a
 * simulated guest, real loopback HTTP, real socket files.
 */
import { spawnSync } from 'node:child_process'
import { Server } from 'node:http'
import { chmod, lstat, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { initSimulator } from '@initguard/tee-simulator'
import { launchGuest, unboundGuest, verifyInitdata } from './agent-test-support.ts'
import { get, kbsInitdataToml } from './guest-api-test-support.ts'
import {
  nonLoopbackAddresses,
  serveGuestApi,
  type RunningGuestApi,
  type SocketOnlyGuestApi,
} from './guest-api-server.ts'
import type { GuestApiState } from './guest-api-routes.ts'
import { VerifiedDocuments } from './initdata-check/verified-documents.ts'
import { openAgentKbs } from './kbs-access.ts'

const DOCUMENT = kbsInitdataToml('http://127.0.0.1:1', undefined, 'serving')
let dir: string
let simDir: string
const running: RunningGuestApi[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'guest-api-serving-'))
  simDir = join(dir, 'sim')
  await initSimulator(simDir)
})

afterAll(async () => {
  for (const api of running) await api.close()
  await rm(dir, { recursive: true, force: true })
})

async function state(options: { unbound?: boolean } = {}): Promise<GuestApiState> {
  const { tee, initdata } =
    options.unbound === true
      ? await unboundGuest(simDir, DOCUMENT)
      : await (async () => {
          const launched = await launchGuest(simDir, DOCUMENT)
          return { tee: launched, initdata: await verifyInitdata(launched, DOCUMENT) }
        })()
  const { access } = openAgentKbs({ initdata, tee })
  return { initdata, documents: new VerifiedDocuments(initdata), tee, kbs: access }
}

async function serve(
  served: GuestApiState,
  options: { socketPath?: string } = {},
): Promise<RunningGuestApi> {
  const api = await serveGuestApi({
    state: served,
    listen: { host: '127.0.0.1', port: 0 },
    ...options,
  })
  running.push(api)
  return api
}

/** `text` written raw to the API at `base`; the answer's head and body as text. */
function raw(base: string, text: string): Promise<string> {
  const url = new URL(base)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => socket.end(text))
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('close', () => {
      resolve(Buffer.concat(chunks).toString('utf8'))
    })
    socket.on('error', reject)
  })
}

describe('every answer carries the marks', () => {
  it('unbound and simulated, also on Fastify and Node refusals, HEAD and OPTIONS', async () => {
    const served = await state({ unbound: true })
    const reason = 'unbound' in served.initdata ? served.initdata.reason : ''
    const api = await serve(served)
    const badUrl = await get({ base: api.url }, '/initdata/%zz')
    expect(badUrl.status).toBe(400)
    expect(badUrl.headers['initguard-initdata']).toBe(`unbound; reason="${reason}"`)
    expect(badUrl.headers['initguard-tee']).toBe('simulated')
    expect(badUrl.json()).toMatchObject({
      code: 'ERR_AGENT_REQUEST',
      'initguard-initdata': { bound: false, reason },
    })
    const badHeader = await raw(
      api.url,
      'GET /initdata HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n',
    )
    expect(badHeader).toMatch(/^HTTP\/1\.1 400 /)
    expect(badHeader).toContain(`initguard-initdata: unbound; reason="${reason}"\r\n`)
    expect(badHeader).toContain('initguard-tee: simulated\r\n')
    expect(badHeader).toContain('"code":"ERR_AGENT_REQUEST"')
    for (const method of ['HEAD', 'OPTIONS']) {
      const answer = await raw(
        api.url,
        `${method} /initdata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      )
      expect([method, answer]).toEqual([
        method,
        expect.stringContaining('initguard-initdata: unbound;'),
      ])
    }
  })

  it('the simulated mark on the socket server too, for a request Node cannot parse', async () => {
    const socketPath = join(dir, 'marks.sock')
    await serve(await state(), { socketPath })
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(socketPath, () =>
        socket.end('GET / HTTP/1.1\r\nBad Header: y\r\n\r\n'),
      )
      const chunks: Buffer[] = []
      socket.on('data', (chunk: Buffer) => chunks.push(chunk))
      socket.on('close', () => {
        resolve(Buffer.concat(chunks).toString('utf8'))
      })
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400 /)
    expect(answer).toContain('initguard-tee: simulated\r\n')
    expect(answer).not.toContain('initguard-initdata')
  })
})

describe('where it listens', () => {
  it('judges what was bound, not the name', async () => {
    expect(nonLoopbackAddresses(['/a/pipe', { address: '127.0.0.1' }, { address: '::1' }])).toEqual(
      [],
    )
    expect(nonLoopbackAddresses([{ address: '127.0.0.1' }, { address: '10.1.2.3' }])).toEqual([
      '10.1.2.3',
    ])
    const api = await serveGuestApi({
      state: await state(),
      listen: { host: 'localhost', port: 0 },
    })
    running.push(api)
    expect(
      (await get({ base: api.url.replace('localhost', '127.0.0.1') }, '/initdata')).status,
    ).toBe(200)
  })
})

describe("listen 'none': the socket alone", () => {
  it('serves on the 0600 socket and never listens on TCP', async () => {
    const socketPath = join(dir, 'only.sock')
    const listens = vi.spyOn(Server.prototype, 'listen')
    let api: SocketOnlyGuestApi
    try {
      api = await serveGuestApi({ state: await state(), listen: 'none', socketPath })
      // Every listen was on the socket's path: no port, not even a loopback one.
      expect(listens.mock.calls.map((call): unknown => call[0])).toEqual([socketPath])
    } finally {
      listens.mockRestore()
    }
    expect(api.url).toBeUndefined()
    expect(api.socketPath).toBe(socketPath)
    expect(((await lstat(socketPath)).mode & 0o777).toString(8)).toBe('600')
    expect((await get({ socket: socketPath }, '/initdata')).status).toBe(200)
    await api.close()
    await expect(lstat(socketPath)).rejects.toThrow(/ENOENT/)
  })

  it('refused without a socket, and with allowNonLoopback, before anything listens', async () => {
    const served = await state()
    const none = { state: served, listen: 'none' } as const
    await expect(serveGuestApi(none)).rejects.toMatchObject({ code: 'ERR_AGENT_LISTEN_NONE' })
    const socketPath = join(dir, 'never.sock')
    await expect(
      serveGuestApi({ ...none, socketPath, allowNonLoopback: true }),
    ).rejects.toMatchObject({ code: 'ERR_OPTION_NOT_APPLICABLE' })
    await expect(lstat(socketPath)).rejects.toThrow(/ENOENT/)
  })
})

describe('the socket path', () => {
  const refused = async (path: string, message: RegExp): Promise<void> => {
    await expect(serve(await state(), { socketPath: path })).rejects.toMatchObject({
      code: 'ERR_AGENT_SOCKET_IN_USE',
      message: expect.stringMatching(message) as unknown,
    })
  }

  /** A socket file left by a process that died without removing it. */
  const staleSocket = (path: string): void => {
    const script = `require('net').createServer().listen(${JSON.stringify(path)}, () => process.exit(0))`
    expect(spawnSync(process.execPath, ['-e', script]).status).toBe(0)
  }

  it('a live socket is refused; a stale one of ours replaced, and the new one is 0600', async () => {
    const path = join(dir, 'live.sock')
    await serve(await state(), { socketPath: path })
    await refused(path, /socket of a running server/)
    const stale = join(dir, 'stale.sock')
    staleSocket(stale)
    const api = await serve(await state(), { socketPath: stale })
    const created = await lstat(stale)
    expect([created.isSocket(), (created.mode & 0o777).toString(8)]).toEqual([true, '600'])
    expect((await get({ socket: stale }, '/initdata')).status).toBe(200)
    await api.close()
  })

  it('a directory another user could replace the socket in is refused; a sticky one is not', async () => {
    const shared = join(dir, 'shared')
    await mkdir(shared)
    await chmod(shared, 0o777)
    const path = join(shared, 'agent.sock')
    await expect(serve(await state(), { socketPath: path })).rejects.toMatchObject({
      code: 'ERR_AGENT_SOCKET',
      message: expect.stringContaining(`${shared} is writable by group or others`) as unknown,
    })
    await expect(lstat(path)).rejects.toThrow(/ENOENT/)
    await chmod(shared, 0o1777)
    const api = await serve(await state(), { socketPath: path })
    expect((await get({ socket: path }, '/initdata')).status).toBe(200)
    await api.close()
  })

  it('a file that is not a socket, or a symlink (even to a stale socket), is refused', async () => {
    const file = join(dir, 'file.sock')
    await writeFile(file, 'not a socket')
    await refused(file, /is not a socket/)
    const target = join(dir, 'target.sock')
    staleSocket(target)
    const link = join(dir, 'link.sock')
    await symlink(target, link)
    await refused(link, /is not a socket/)
    expect((await lstat(target)).isSocket()).toBe(true)
  })
})

/**
 * `kbs admin` against something at --url that trickles its answer a byte at a time, never
 * stalling long enough for the stall timeout: each call is given up on at its total deadline
 * (`ERR_KBS_DEADLINE`, exit 6, not the `ERR_KBS_UNAVAILABLE` of a KBS that is down), not held for
 * ever.
 */
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import {
  KBS_ADMIN_TOTAL_TIMEOUT_MS,
  kbsAdminCall,
  kbsAdminTarget,
} from './commands/kbs-admin-request.ts'

let server: Server
let url: string
let dir: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-kbs-admin-deadline-'))
  const { privateKey } = generateKeyPairSync('ed25519')
  await writeFile(join(dir, 'admin.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  })
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/json' })
    const timer = setInterval(() => res.write(' '), 20)
    res.on('close', () => {
      clearInterval(timer)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  url = `http://127.0.0.1:${address.port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
  await rm(dir, { recursive: true, force: true })
})

describe('kbs admin against an answer that trickles in', () => {
  it('gives up at the total deadline, long before the body would end', async () => {
    expect(KBS_ADMIN_TOTAL_TIMEOUT_MS).toBe(120_000)
    const target = await kbsAdminTarget(url, join(dir, 'admin.key'), undefined, undefined, {
      timeoutMs: 1000,
      totalTimeoutMs: 400,
    })
    const started = Date.now()
    const error = await rejected(kbsAdminCall(target, 'GET', '/kbs/v0/resource-policy'))
    expect(Date.now() - started).toBeLessThan(1500)
    expect(error.code).toBe('ERR_KBS_DEADLINE')
    expect(error.category).toBe('unavailable')
    expect(error.message).toContain('no complete answer within the total timeout of 400 ms')
    expect(error.hint).toContain('120 s')
  })
})

/**
 * The demo's guest-API client against something on the agent's port that trickles its answer a
 * byte at a time, never stalling long enough for the stall timeout: the request is given up on at
 * its total deadline with `ERR_DEMO_GUEST_API_DEADLINE`, not held for ever.
 */
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { AGENT_KBS_TOTAL_TIMEOUT_MS } from '@initguard/agent'
import {
  DEMO_GUEST_API_HEADER_TIMEOUT_MS,
  DEMO_GUEST_API_TOTAL_TIMEOUT_MS,
  guestApiClient,
  guestGet,
} from './demo-guests.ts'

let server: Server
let base: string

beforeAll(async () => {
  server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' })
    const drip = setInterval(() => res.write('x'), 20)
    res.on('close', () => {
      clearInterval(drip)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  base = `http://127.0.0.1:${address.port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise((resolve) => server.close(resolve))
})

describe("the demo's guest-API client against an answer that trickles in", () => {
  it('gives up at the total deadline, long before the body would end', async () => {
    expect(DEMO_GUEST_API_TOTAL_TIMEOUT_MS).toBe(60_000)
    const client = guestApiClient({ timeoutMs: 200, totalTimeoutMs: 500 })
    const started = Date.now()
    const error = await rejected(guestGet(base, '/cdh/resource/default/key/1', client))
    expect(Date.now() - started).toBeLessThan(3000)
    expect(error.code).toBe('ERR_DEMO_GUEST_API_DEADLINE')
    expect(error.category).toBe('unavailable')
    expect(error.message).toBe(
      "cannot GET /cdh/resource/default/key/1 from the agent's guest API: no complete answer within the total timeout of 500 ms (it ran out while the HTTP 200 response's body was still arriving)",
    )
    expect(error.hint).toContain("agent's log")
  }, 10_000)
})

describe("the demo's guest-API waits", () => {
  it("outlast an agent's slowest honest answer: a handshake and then the resource, each at its KBS deadline", () => {
    // The agent sends its headers only once it has the answer: waiting less for them would end a
    // slow but honest run with the demo's timeout instead of the agent's own error.
    expect(DEMO_GUEST_API_HEADER_TIMEOUT_MS).toBeGreaterThan(2 * AGENT_KBS_TOTAL_TIMEOUT_MS)
    expect(DEMO_GUEST_API_TOTAL_TIMEOUT_MS).toBeGreaterThan(DEMO_GUEST_API_HEADER_TIMEOUT_MS)
  })
})

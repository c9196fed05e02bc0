/**
 * This KBS as its own protocol client reads it, seen on the wire: a plain-http relay in front of
 * the real KBS (HTTPS, `startKbs`) records the status and Content-Type of every answer the client
 * reads, so what the KBS sends and what the client accepts cannot drift apart unnoticed.
 */
import { request as httpsRequest } from 'node:https'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { KbsClient } from '@initguard/kbs-protocol'
import { ACCEPTED, SECRET, startHandshakeKbs } from './handshake-test-support.ts'
import type { TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs
let relay: LoopbackServer
/** `<path> <status> <content-type|->` per answer relayed. */
const seen: string[] = []

beforeAll(async () => {
  kbs = await startHandshakeKbs()
  const target = new URL(kbs.kbs.url)
  relay = await startLoopbackServer((req, res) => {
    const forward = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        headers: req.headers,
        ...(kbs.kbs.tls === undefined ? {} : { ca: kbs.kbs.tls.certPem }),
      },
      (answer) => {
        seen.push(
          `${req.url ?? ''} ${String(answer.statusCode)} ${answer.headers['content-type'] ?? '-'}`,
        )
        res.writeHead(answer.statusCode ?? 502, answer.headers)
        answer.pipe(res)
      },
    )
    forward.on('error', () => res.writeHead(502).end())
    req.pipe(forward)
  })
})

afterAll(async () => {
  await relay.close()
  await kbs.stop()
})

describe("this KBS's answers, as its client reads them", () => {
  it('says application/json on /auth, /attest and a resource, and the client takes each', async () => {
    seen.length = 0
    const client = new KbsClient({ url: relay.baseUrl })
    await client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED })
    const secret = await client.getResource('default/app/password')
    expect(new TextDecoder().decode(secret)).toBe(SECRET)
    expect(seen).toEqual([
      '/kbs/v0/auth 200 application/json; charset=utf-8',
      '/kbs/v0/attest 200 application/json; charset=utf-8',
      '/kbs/v0/resource/default/app/password 200 application/json; charset=utf-8',
    ])
  })
})

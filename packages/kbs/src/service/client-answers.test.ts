/**
 * This KBS as its own protocol client reads it, seen on the wire: a plain-http relay in front of
 * the real KBS (HTTPS, `startKbs`) records the status and Content-Type of every answer the client
 * reads, so what the KBS sends and what the client accepts cannot drift apart unnoticed; and it
 * puts another protocol version in the client's `/auth`, to see the KBS's refusal told as such.
 */
import { request as httpsRequest } from 'node:https'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { KbsClient } from '@initguard/kbs-protocol'
import { ACCEPTED, SECRET, startHandshakeKbs } from './handshake-test-support.ts'
import type { TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs
let relay: LoopbackServer
/** `<path> <status> <content-type|->` per answer relayed. */
const seen: string[] = []
/** The protocol version the relay puts in the client's `/auth` request instead of its own. */
let version: string | undefined

beforeAll(async () => {
  kbs = await startHandshakeKbs()
  const target = new URL(kbs.kbs.url)
  relay = await startLoopbackServer((req, res) => {
    const rewrite = version !== undefined && req.url === '/kbs/v0/auth'
    const { 'content-length': _length, ...headers } = req.headers
    const forward = httpsRequest(
      {
        host: target.hostname,
        port: target.port,
        path: req.url,
        method: req.method,
        // A rewritten body has another length: sent chunked.
        headers: rewrite ? headers : req.headers,
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
    if (!rewrite) return void req.pipe(forward)
    const parts: Buffer[] = []
    req.on('data', (part: Buffer) => parts.push(part))
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(parts).toString('utf8')) as Record<string, unknown>
      forward.end(JSON.stringify({ ...body, version }))
    })
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

  it('refuses another protocol version in words its client tells as ERR_KBS_PROTOCOL_VERSION', async () => {
    seen.length = 0
    version = '0.3.0'
    try {
      const client = new KbsClient({ url: relay.baseUrl })
      const error = await rejected(
        client.attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED }),
      )
      expect(error.code).toBe('ERR_KBS_PROTOCOL_VERSION')
      expect(error.details).toMatchObject({ status: 400 })
      expect(error.message).toContain('protocol version "0.3.0" is not supported')
      expect(seen).toEqual(['/kbs/v0/auth 400 application/json; charset=utf-8'])
    } finally {
      version = undefined
    }
  })
})

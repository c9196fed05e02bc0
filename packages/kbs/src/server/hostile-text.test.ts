/**
 * What an unauthenticated client sends ends up quoted in refusals, and every refusal is audited:
 * a control character (U+0000 above all, which PostgreSQL refuses in `text`) must neither lose
 * the audit entry nor turn the refusal into a 500, on either engine.
 */
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { describe, expect, it, onTestFinished } from 'vitest'
import { createKbsServices } from '../service/kbs-services.ts'
import { STORE_ENGINES, testDatabases } from '../storage/store-test-support.ts'
import { testAdminKey } from './admin-auth-test-support.ts'
import { buildKbsApp } from './app.ts'
import { resolveKbsServerConfig } from './config.ts'

const base64urlJson = (value: unknown): string =>
  Buffer.from(JSON.stringify(value)).toString('base64url')

describe.each(STORE_ENGINES)('control characters from a client on %s', (engine) => {
  const databases = testDatabases(engine)

  async function app() {
    const { dataDir, database } = await databases.fresh()
    const config = resolveKbsServerConfig({
      dataDir,
      listen: '127.0.0.1:0',
      adminPublicKey: ['admin.pub'],
      insecureHttp: true,
      ...(database.kind === 'postgres' ? { database: database.url } : {}),
    })
    const services = await createKbsServices(config, {
      online: false,
      masterKeyEnv: randomBytes(32).toString('base64'),
    })
    onTestFinished(() => services.store.close())
    const built = await buildKbsApp({
      ...services,
      adminKeys: [testAdminKey('EdDSA').admin],
      config,
      logger: {
        level: 'info',
        stream: new Writable({
          write(_chunk, _encoding, callback) {
            callback()
          },
        }),
      } as unknown as Parameters<typeof buildKbsApp>[0]['logger'] & object,
      clock: () => new Date(),
      simulatedTrust: false,
    })
    onTestFinished(() => built.close())
    return { built, audit: services.store.audit }
  }

  it('refuse a bearer token whose alg holds U+0000 with 401, audited and escaped', async () => {
    const { built, audit } = await app()
    const header = { alg: 'ES\u0000256\n\u2028x', typ: 'JWT', kid: 'x' }
    const token = `${base64urlJson(header)}.${base64urlJson({})}.AAAA`
    const response = await built.inject({
      method: 'GET',
      url: '/kbs/v0/resource/default/key/one',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.statusCode).toBe(401)
    const detail = response.json<{ detail: string }>().detail
    expect(detail).toContain(`algorithm is ${JSON.stringify(header.alg)}, not ES256`)
    const entries = await audit.list({ limit: 10 })
    expect(entries).toHaveLength(1)
    expect(entries[0]).toMatchObject({ action: 'resource', outcome: 'denied' })
    expect(entries[0]?.detail).toContain('"ES\\u0000256\\n\\u2028x"')
    // eslint-disable-next-line no-control-regex -- no raw control character is stored
    expect(entries[0]?.detail).not.toMatch(/[\u0000-\u001f\u2028]/u)
  })

  it('bound what a refusal quotes of a long algorithm', async () => {
    const { built } = await app()
    const token = `${base64urlJson({ alg: 'E'.repeat(10_000), kid: 'x' })}.${base64urlJson({})}.AAAA`
    const response = await built.inject({
      method: 'GET',
      url: '/kbs/v0/resource/default/key/one',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.statusCode).toBe(401)
    expect(response.json<{ detail: string }>().detail.length).toBeLessThan(200)
  })
})

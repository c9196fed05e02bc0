/**
 * `kbs admin --admin-audience` against a KBS started with its own admin audience: the tokens the
 * CLI signs name it; without it (Trustee's `KBS`) the KBS refuses them, exit 4 with a message that
 * says whose they are and how to fix it, and audits the refusal; a malformed audience is refused
 * before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { jsonError, runInProcess, startSimKbs, type InProcessSimKbs } from './cli-test-support.ts'
import { adminToken } from './commands/kbs-admin-request.ts'
import { generateKeyPairSync } from 'node:crypto'

const AUDIENCE = 'https://kbs.prod.example:8443'
let kbs: InProcessSimKbs

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-audience-', { adminAudience: AUDIENCE })
})

afterAll(async () => kbs.close())

describe('kbs admin --admin-audience', () => {
  it("signs tokens for the KBS's audience; without it the KBS refuses them (exit 4), saying why, and audits it", async () => {
    const refused = await kbs.admin('resource', 'list', '--json')
    expect(refused.code).toBe(4)
    const error = jsonError(refused)
    expect(error.code).toBe('ERR_KBS_ADMIN_REFUSED')
    expect(error.message).toContain(
      `the token is for ["KBS"], not for this KBS's admin audience "${AUDIENCE}"`,
    )
    const listed = await kbs.admin('--admin-audience', AUDIENCE, 'resource', 'list', '--json')
    expect(listed.code, listed.stderr).toBe(0)
    const audit = await kbs.admin('--admin-audience', AUDIENCE, 'audit', '--json')
    const { entries } = (JSON.parse(audit.stdout) as { result: { entries: unknown[] } }).result
    expect(entries).toMatchObject([
      { action: 'admin', outcome: 'denied', reason: 'ERR_KBS_ADMIN_AUDIENCE' },
    ])
    // Text mode: the hint names both things to check.
    const text = await kbs.admin('resource', 'list')
    expect(text.stderr).toMatch(/hint: check --admin-key .* and --admin-audience/)
  })

  it('puts the audience in the token, Trustee\'s "KBS" when none is given', () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const claims = (token: string): unknown =>
      JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString())
    const now = new Date('2026-06-01T12:00:00Z')
    expect(claims(adminToken({ key: privateKey, algorithm: 'EdDSA' }, now))).toMatchObject({
      aud: ['KBS'],
    })
    expect(
      claims(adminToken({ key: privateKey, algorithm: 'EdDSA', audience: AUDIENCE }, now)),
    ).toMatchObject({ aud: [AUDIENCE] })
  })

  it('refuses a malformed audience before connecting, on kbs admin and kbs serve (exit 2)', async () => {
    for (const bad of ['', 'a,b', 'K BS', '"KBS"', '-kbs', 'k'.repeat(256)]) {
      const admin = await runInProcess([
        ...['kbs', 'admin', '--url', 'https://127.0.0.1:1', '--admin-key', kbs.at('admin.key')],
        ...[`--admin-audience=${bad}`, 'resource', 'list', '--json'],
      ])
      expect({ bad, code: admin.code }).toEqual({ bad, code: 2 })
      expect(jsonError(admin).code).toBe('ERR_OPTION_VALUE')
      const serve = await runInProcess([
        ...['kbs', 'serve', '--data-dir', kbs.at('never'), '--listen', '127.0.0.1:0'],
        ...['--admin-public-key', kbs.at('admin.pub'), `--admin-audience=${bad}`],
      ])
      expect({ bad, code: serve.code }).toEqual({ bad, code: 2 })
      expect(serve.stderr).toContain('code: ERR_OPTION_VALUE')
    }
  })
})

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { rejected, thrown } from '@initguard/testkit'
import { connectPostgres } from './dialect-postgres.ts'
import { checkPostgresTransport, postgresConnectionConfig } from './postgres-transport.ts'

const remote = 'postgres://kbs:s3cret-pw@db.internal:5432/kbs'

async function caFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kbs-pg-tls-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'ca.pem')
  await writeFile(file, '-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n')
  return file
}

describe('checkPostgresTransport', () => {
  it('accepts verify-full, and verify-ca with an sslrootcert', async () => {
    expect(checkPostgresTransport(`${remote}?sslmode=verify-full`, 'db', false)).toEqual({
      kind: 'verified-tls',
      sslmode: 'verify-full',
    })
    const ca = await caFile()
    expect(
      checkPostgresTransport(`${remote}?sslmode=verify-ca&sslrootcert=${ca}`, 'db', false),
    ).toEqual({ kind: 'verified-tls', sslmode: 'verify-ca' })
  })

  it('refuses a remote server without verified TLS, never echoing the password', () => {
    for (const query of [
      '',
      '?sslmode=disable',
      '?sslmode=allow',
      '?sslmode=prefer',
      '?sslmode=require',
      '?sslmode=no-verify',
      '?sslmode=require&uselibpqcompat=true',
      '?sslmode=verify-ca',
      '?ssl=true',
      // The query's host wins over the URL's, as in the driver.
      '?host=db.internal',
    ]) {
      const url = query.startsWith('?host')
        ? `postgres://kbs:s3cret-pw@localhost/kbs${query}`
        : `${remote}${query}`
      const error = thrown(() => checkPostgresTransport(url, 'postgres://kbs:***@db/kbs', false))
      expect(error.code, query).toBe('ERR_KBS_DATABASE_TLS')
      expect(JSON.stringify(error.toJSON()), query).not.toContain('s3cret-pw')
      expect(error.hint, query).toContain('sslmode=verify-full')
    }
  })

  it('allows loopback, a Unix socket directory, and an explicit opt-in', () => {
    for (const [url, host] of [
      ['postgres://kbs:pw@127.0.0.1:5432/kbs', '127.0.0.1'],
      ['postgres://kbs:pw@127.8.9.10/kbs?sslmode=disable', '127.8.9.10'],
      ['postgres://kbs:pw@[::1]:5432/kbs', '::1'],
      ['postgres://kbs:pw@localhost/kbs', 'localhost'],
      // 127.0.0.1 mapped into IPv6 (URL parsing writes it in hex) is loopback too.
      ['postgres://kbs:pw@[::ffff:127.0.0.1]/kbs', '::ffff:7f00:1'],
      ['postgres://kbs:pw@%2Fvar%2Frun%2Fpostgresql/kbs', '/var/run/postgresql'],
      ['postgres://kbs:pw@remote/kbs?host=/run/postgresql', '/run/postgresql'],
    ] as const)
      expect(checkPostgresTransport(url, 'db', false), url).toEqual({ kind: 'local', host })
    for (const url of [
      'postgres://kbs:pw@128.0.0.1/kbs',
      'postgres://kbs:pw@[::2]/kbs',
      'postgres://kbs:pw@[::ffff:128.0.0.1]/kbs',
    ])
      expect(thrown(() => checkPostgresTransport(url, 'db', false)).code).toBe(
        'ERR_KBS_DATABASE_TLS',
      )
    expect(checkPostgresTransport(`${remote}?sslmode=prefer`, 'db', true)).toEqual({
      kind: 'insecure-opt-in',
      sslmode: 'prefer',
    })
  })

  it('refuses an sslrootcert it cannot read', () => {
    const error = thrown(() =>
      checkPostgresTransport(
        `${remote}?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem`,
        'db',
        false,
      ),
    )
    expect(error.code).toBe('ERR_KBS_DATABASE_TLS_FILE')
  })

  it('is checked by connectPostgres before any connection is tried', async () => {
    const error = await rejected(connectPostgres({ url: `${remote}?sslmode=prefer` }))
    expect(error.code).toBe('ERR_KBS_DATABASE_TLS')
  })
})

describe('postgresConnectionConfig', () => {
  const sslOf = (url: string): unknown => postgresConnectionConfig(url).ssl

  it('makes certificate verification explicit wherever the URL turns TLS on and does not turn it off', async () => {
    const ca = await caFile()
    for (const query of [
      '?sslmode=verify-full',
      `?sslmode=verify-ca&sslrootcert=${ca}`,
      `?sslmode=verify-ca&sslrootcert=${ca}&uselibpqcompat=true`,
      '?ssl=true',
    ])
      expect(sslOf(`${remote}${query}`), query).toMatchObject({ rejectUnauthorized: true })
    // The CA comes along; libpq's verify-ca still skips only the host name.
    expect(sslOf(`${remote}?sslmode=verify-full&sslrootcert=${ca}`)).toMatchObject({
      ca: expect.stringContaining('BEGIN CERTIFICATE') as unknown,
      rejectUnauthorized: true,
    })
  })

  it('keeps what the URL says otherwise: no TLS, or TLS without verification', () => {
    expect(sslOf(`${remote}?sslmode=disable`)).toBe(false)
    expect(sslOf(remote)).toBeUndefined()
    for (const query of ['?sslmode=no-verify', '?sslmode=require&uselibpqcompat=true'])
      expect(sslOf(`${remote}${query}`), query).toMatchObject({ rejectUnauthorized: false })
  })

  it('reads the rest of the URL as the driver does', () => {
    expect(postgresConnectionConfig(`${remote}?sslmode=verify-full`)).toMatchObject({
      host: 'db.internal',
      port: 5432,
      user: 'kbs',
      password: 's3cret-pw',
      database: 'kbs',
    })
  })
})

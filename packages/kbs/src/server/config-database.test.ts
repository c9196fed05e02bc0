import { describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { parseDatabaseSetting } from './config-database.ts'
import { resolveKbsServerConfig } from './config.ts'

const flags = { dataDir: '/data', listen: '127.0.0.1:8443', adminPublicKey: ['/keys/admin.pub'] }
const url = 'postgres://kbs:s3cret-pw@db.internal:5432/kbs'
const file = (document: unknown) => ({ document, path: '/etc/kbs/kbs.toml' })

describe('the database setting', () => {
  it('is SQLite by default, else --database, INITGUARD_KBS_DATABASE, then the file', () => {
    expect(resolveKbsServerConfig(flags).database).toEqual({ kind: 'sqlite' })
    const fromFile = resolveKbsServerConfig(flags, file({ database: url }))
    expect(fromFile.database).toEqual({ kind: 'postgres', url })
    const other = 'postgresql://kbs:x@other/kbs'
    expect(
      resolveKbsServerConfig({ ...flags, databaseEnv: other }, file({ database: url })).database,
    ).toEqual({ kind: 'postgres', url: other })
    expect(
      resolveKbsServerConfig(
        { ...flags, database: 'sqlite', databaseEnv: other },
        file({ database: url }),
      ).database,
    ).toEqual({ kind: 'sqlite' })
  })

  it('reads the [postgres] pool section', () => {
    const config = resolveKbsServerConfig(
      flags,
      file({
        database: url,
        postgres: {
          'pool-size': 4,
          'connect-timeout': '2s',
          'statement-timeout': '500ms',
          'idle-timeout': '1m',
        },
      }),
    )
    expect(config.database).toEqual({
      kind: 'postgres',
      url,
      poolSize: 4,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 500,
      idleTimeoutMs: 60_000,
    })
  })

  it('takes a Unix socket URL: no host in the authority, an absolute socket directory', () => {
    for (const socket of [
      'postgres:///kbs?host=/run/postgresql',
      'postgresql:///kbs?host=%2Fvar%2Frun%2Fpostgresql&port=5433&user=kbs',
    ])
      expect(parseDatabaseSetting(socket, '--database')).toEqual({ kind: 'postgres', url: socket })
  })

  it('refuses other schemes, a [postgres] section without PostgreSQL, and bad pool values; never echoing a password', () => {
    for (const bad of [
      'mysql://kbs:s3cret-pw@db/kbs',
      'file:///var/lib/kbs.sqlite',
      'postgres:///kbs',
      'postgres:///kbs?host=run/postgresql&password=s3cret-pw',
      'postgres:///kbs?port=5432&password=s3cret-pw',
      'postgres:///kbs?host=/run/postgresql&host=&password=s3cret-pw',
      'postgres://kbs:s3cret-pw@db/kbs?sslmode=verify-full&sslmode=disable',
      'kbs:s3cret-pw@db/kbs',
      'SQLite',
    ]) {
      const error = thrown(() => parseDatabaseSetting(bad, '--database'))
      expect(error.code, bad).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message, bad).toMatch(/^--database /)
      expect(JSON.stringify(error.toJSON()), bad).not.toContain('s3cret-pw')
    }
    const stray = thrown(() =>
      resolveKbsServerConfig(flags, file({ postgres: { 'pool-size': 4 } })),
    )
    expect([stray.code, stray.message]).toEqual([
      'ERR_KBS_CONFIG_KEY',
      '[postgres] pool-size is set but the database is SQLite',
    ])
    for (const postgres of [
      { 'pool-size': 0 },
      { 'pool-size': '4' },
      { 'connect-timeout': 5 },
      { 'statement-timeout': '0s' },
      { 'idle-time': '1s' },
    ]) {
      const error = thrown(() => resolveKbsServerConfig(flags, file({ database: url, postgres })))
      expect(['ERR_KBS_CONFIG_VALUE', 'ERR_KBS_CONFIG_KEY'], JSON.stringify(postgres)).toContain(
        error.code,
      )
    }
  })

  it('refuses a statement timeout at or past the store-call deadline, and takes one under it', () => {
    for (const given of ['5s', '5000ms', '10s', '1m']) {
      const error = thrown(() =>
        resolveKbsServerConfig(
          flags,
          file({ database: url, postgres: { 'statement-timeout': given } }),
        ),
      )
      expect([error.code, error.message], given).toEqual([
        'ERR_KBS_CONFIG_VALUE',
        `postgres.statement-timeout "${given}": expected a duration under the 5 s store-call deadline (the default is 4s)`,
      ])
    }
    const under = resolveKbsServerConfig(
      flags,
      file({ database: url, postgres: { 'statement-timeout': '4999ms' } }),
    )
    expect(under.database).toMatchObject({ kind: 'postgres', statementTimeoutMs: 4999 })
  })

  it('reads the insecure-transport opt-in from the flag or [postgres], and only for PostgreSQL', () => {
    expect(resolveKbsServerConfig(flags, file({ database: url })).database).not.toHaveProperty(
      'insecureTransport',
    )
    for (const [given, document] of [
      [{ databaseInsecureTransport: true }, { database: url }],
      [{}, { database: url, postgres: { 'insecure-transport': true } }],
    ] as const)
      expect(resolveKbsServerConfig({ ...flags, ...given }, file(document)).database).toEqual({
        kind: 'postgres',
        url,
        insecureTransport: true,
      })
    const notBoolean = thrown(() =>
      resolveKbsServerConfig(
        flags,
        file({ database: url, postgres: { 'insecure-transport': 'yes' } }),
      ),
    )
    expect(notBoolean.code).toBe('ERR_KBS_CONFIG_VALUE')
    const sqlite = thrown(() =>
      resolveKbsServerConfig({ ...flags, databaseInsecureTransport: true }),
    )
    expect(sqlite.code).toBe('ERR_KBS_CONFIG_KEY')
  })

  it('refuses the insecure-transport opt-in where the connection needs none: it would allow nothing', () => {
    for (const protectedUrl of [
      'postgres://kbs:s3cret-pw@127.0.0.1:5432/kbs',
      'postgres://kbs:s3cret-pw@[::1]:5432/kbs',
      'postgres://kbs:s3cret-pw@localhost/kbs',
      'postgres:///kbs?host=/run/postgresql',
      'postgres://kbs:s3cret-pw@db.internal:5432/kbs?sslmode=verify-full',
    ])
      for (const [given, document, named] of [
        [
          { databaseInsecureTransport: true },
          { database: protectedUrl },
          '--database-insecure-transport',
        ],
        [
          {},
          { database: protectedUrl, postgres: { 'insecure-transport': true } },
          '[postgres] insecure-transport',
        ],
      ] as const) {
        const error = thrown(() => resolveKbsServerConfig({ ...flags, ...given }, file(document)))
        expect([error.code, error.message], protectedUrl).toEqual([
          'ERR_KBS_CONFIG_KEY',
          expect.stringContaining(`${named} has no effect`),
        ])
        expect(error.message).not.toContain('s3cret-pw')
        expect(error.hint).toContain('drop')
      }
    // Where the connection is not protected otherwise, the opt-in is what lets it through.
    for (const sslmode of ['', '?sslmode=require', '?sslmode=prefer'])
      expect(
        resolveKbsServerConfig(
          { ...flags, databaseInsecureTransport: true },
          file({ database: url + sslmode }),
        ).database,
      ).toMatchObject({ insecureTransport: true })
  })

  it('never echoes a malformed database value from the config file, which may hold a password', () => {
    for (const database of [
      'postgres://kbs:hunter2@db/kbs\u0000',
      ['postgres://kbs:hunter2@db/kbs'],
      { url: 'postgres://kbs:hunter2@db/kbs' },
      '',
      42,
    ]) {
      const error = thrown(() => resolveKbsServerConfig(flags, file({ database })))
      expect(error.code, JSON.stringify(database)).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toMatch(/^database "\(.+, not shown\)"/)
      expect(JSON.stringify(error.toJSON())).not.toContain('hunter2')
    }
  })
})

import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { rejected, thrown } from '@initguard/testkit'
import { loadKbsServerConfig } from './config-file.ts'
import { parseDuration, parseListen, parseSize } from './config-values.ts'
import { KBS_CONFIG_DEFAULTS, resolveKbsServerConfig } from './config.ts'
import { MIN_REPLICA_LIFETIME_MS, REPLICA_CLOCK_SKEW_MS } from '../replica-clocks.ts'

const flags = { dataDir: '/data', listen: '127.0.0.1:8443', adminPublicKey: ['/keys/admin.pub'] }
const dir = await mkdtemp(join(tmpdir(), 'kbs-config-'))
afterAll(async () => rm(dir, { recursive: true, force: true }))

describe('durations, sizes and listen addresses', () => {
  it('parse exactly their forms', () => {
    expect(parseDuration('500ms', 'k')).toBe(500)
    expect(parseDuration('30s', 'k')).toBe(30_000)
    expect(parseDuration('5m', 'k')).toBe(300_000)
    expect(parseDuration('1h', 'k')).toBe(3_600_000)
    expect(parseSize('2MiB', 'k')).toBe(2 * 1024 * 1024)
    expect(parseSize('512KiB', 'k')).toBe(524_288)
    expect(parseListen('[::1]:8443', 'k')).toEqual({ host: '::1', port: 8443 })
    expect(parseListen('kbs.example:0', 'k')).toEqual({ host: 'kbs.example', port: 0 })
  })

  it('refuse everything else, naming the key', () => {
    for (const bad of ['', '5', '0s', '5 m', '5M', '1.5s', '-1s', '25h', '5min', ' 5s'])
      expect(thrown(() => parseDuration(bad, 'limits.request-timeout')).message, bad).toMatch(
        /^limits.request-timeout /,
      )
    // Out of range, the message gives the range: "25h" was once told only "more than 0".
    for (const bad of ['0s', '0ms', '25h', '1441m'])
      expect(thrown(() => parseDuration(bad, 'sessions.nonce-ttl')).message, bad).toMatch(
        /expected .* from 1ms to 24h$/,
      )
    for (const bad of ['2MB', '2mib', '0B', '2', '65GiB', '1.5MiB'])
      expect(thrown(() => parseSize(bad, 'limits.body')).code, bad).toBe('ERR_KBS_CONFIG_VALUE')
    for (const bad of [
      ...['8443', ':8443', 'host:65536', '[zz]:1', '::1:8443', 'a b:1', 'host:'],
      // A port as a number is written; a host a resolver reads as what it is (not 999.1.1.1).
      ...['host:08443', 'host:00', '999.1.1.1:1', '10.1:1', 'a..b:1', '-a.b:1', 'a.:1'],
    ])
      expect(thrown(() => parseListen(bad, '--listen')).code, bad).toBe('ERR_KBS_CONFIG_VALUE')
  })

  it('never read arbitrary text as a duration or size without refusing it', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        for (const parse of [parseDuration, parseSize]) {
          try {
            const value = parse(text, 'k')
            expect(value).toBeGreaterThan(0)
            expect(text).toMatch(/^[0-9]+(ms|s|m|h|B|KiB|MiB|GiB)$/)
          } catch (error) {
            expect((error as { code?: unknown }).code).toBe('ERR_KBS_CONFIG_VALUE')
          }
        }
      }),
    )
  })
})

describe('the server configuration', () => {
  it('takes the flags, with defaults for the rest; HTTPS (generated) by default', () => {
    const config = resolveKbsServerConfig(flags)
    expect(config).toEqual({
      ...KBS_CONFIG_DEFAULTS,
      dataDir: '/data',
      listen: { host: '127.0.0.1', port: 8443 },
      tls: { mode: 'generate' },
      adminPublicKeyFiles: ['/keys/admin.pub'],
      database: { kind: 'sqlite' },
    })
    expect(config.bodyLimitBytes).toBe(2 * 1024 * 1024)
    expect(config.nonceTtlMs).toBe(300_000)
  })

  it('reads everything from a TOML or JSON file, paths relative to the file, flags winning', async () => {
    const toml = join(dir, 'kbs.toml')
    await writeFile(
      toml,
      [
        'data-dir = "data"',
        'listen = "0.0.0.0:9443"',
        'admin-public-key = "admin.pub"',
        'tls-cert = "c.pem"',
        'tls-key = "k.pem"',
        'trust-sim = "sim"',
        'collateral = "col.json"',
        '[limits]',
        'body = "64KiB"',
        'request-timeout = "20s"',
        '[sessions]',
        'nonce-ttl = "2m"',
        '[rate-limit]',
        'max = 5',
        'window = "10s"',
        '[log]',
        'level = "warn"',
      ].join('\n'),
    )
    const config = await loadKbsServerConfig({ config: toml })
    expect(config).toMatchObject({
      dataDir: join(dir, 'data'),
      listen: { host: '0.0.0.0', port: 9443 },
      adminPublicKeyFiles: [join(dir, 'admin.pub')],
      tls: { mode: 'files', certFile: join(dir, 'c.pem'), keyFile: join(dir, 'k.pem') },
      trustSimDir: join(dir, 'sim'),
      collateralFile: join(dir, 'col.json'),
      bodyLimitBytes: 65_536,
      nonceTtlMs: 120_000,
      rateLimit: { max: 5, windowMs: 10_000 },
      logLevel: 'warn',
    })
    expect(config.timeouts.requestMs).toBe(20_000)
    const overridden = await loadKbsServerConfig({
      config: toml,
      listen: '127.0.0.1:1',
      dataDir: '/d',
    })
    expect(overridden.listen).toEqual({ host: '127.0.0.1', port: 1 })
    expect(overridden.dataDir).toBe('/d')
    const json = join(dir, 'kbs.json')
    await writeFile(
      json,
      JSON.stringify({
        'data-dir': '/d',
        listen: 'localhost:1',
        'admin-public-key': ['/a', '/b'],
        'insecure-http': true,
      }),
    )
    expect(await loadKbsServerConfig({ config: json })).toMatchObject({
      adminPublicKeyFiles: ['/a', '/b'],
      tls: { mode: 'insecure-http' },
    })
  })

  it('refuses unknown keys, wrong types, bad values, and files that do not parse', async () => {
    const doc = (document: unknown): string =>
      thrown(() => resolveKbsServerConfig(flags, { document, path: '/x/kbs.toml' })).message
    expect(doc({ data_dir: '/d' })).toMatch(/unknown key "data_dir"/)
    expect(doc({ limits: { bodyy: '1MiB' } })).toMatch(/limits: unknown key "bodyy"/)
    expect(doc({ limits: { body: 2097152 } })).toMatch(
      /limits.body "2097152": expected a non-empty string/,
    )
    expect(doc({ limits: 'big' })).toMatch(/limits "big": expected a table/)
    expect(doc({ 'insecure-http': 'yes' })).toMatch(/insecure-http "yes"/)
    expect(doc({ 'rate-limit': { max: 0 } })).toMatch(
      /rate-limit.max "0": expected a whole number from 1/,
    )
    expect(doc({ log: { level: 'loud' } })).toMatch(/log.level "loud"/)
    expect(doc({ sessions: { 'nonce-ttl': '5' } })).toMatch(/sessions.nonce-ttl "5"/)
    for (const bad of ['400ms', '30500ms', '62500ms', '0s', '25h'])
      expect(doc({ tokens: { lifetime: bad } }), bad).toMatch(/^tokens.lifetime /)
    expect(
      resolveKbsServerConfig(flags, {
        document: { tokens: { lifetime: '31000ms' } },
        path: '/x/kbs.toml',
      }).tokenLifetimeMs,
    ).toBe(31_000)
    for (const bad of ['61s', '2m', '-1s', '2', ''])
      expect(doc({ workloads: { 'cache-max-age': bad } })).toMatch(/workloads.cache-max-age/)
    const cache = (text: string): number =>
      resolveKbsServerConfig(flags, {
        document: { workloads: { 'cache-max-age': text } },
        path: '/x/kbs.toml',
      }).workloadCacheMs
    expect([cache('0s'), cache('250ms'), cache('60s')]).toEqual([0, 250, 60_000])
    expect(resolveKbsServerConfig(flags).workloadCacheMs).toBe(2000)
    // The audit prune's bound: strict, never read as none; days allowed, 7 days by default.
    for (const bad of ['0d', '0s', '7', '7 d', '7D', '1.5d', '-1d', '3651d', 'forever', '', 7])
      expect(doc({ audit: { 'min-retention': bad } }), String(bad)).toMatch(/^audit.min-retention /)
    expect(doc({ audit: { retention: '7d' } })).toMatch(/audit: unknown key "retention"/)
    const retention = (text: string): number =>
      resolveKbsServerConfig(flags, {
        document: { audit: { 'min-retention': text } },
        path: '/x/kbs.toml',
      }).auditMinRetentionMs
    expect([retention('30d'), retention('36h'), retention('1s'), retention('3650d')]).toEqual([
      30 * 86_400_000,
      36 * 3_600_000,
      1000,
      3650 * 86_400_000,
    ])
    expect(resolveKbsServerConfig(flags).auditMinRetentionMs).toBe(7 * 86_400_000)
    await writeFile(join(dir, 'broken.toml'), 'listen = ')
    expect(
      (await rejected(loadKbsServerConfig({ ...flags, config: join(dir, 'broken.toml') }))).code,
    ).toBe('ERR_KBS_CONFIG_SYNTAX')
    expect(
      (await rejected(loadKbsServerConfig({ ...flags, config: join(dir, 'kbs.yaml') }))).code,
    ).toBe('ERR_KBS_CONFIG_FORMAT')
    await writeFile(join(dir, 'broken.json'), '{"listen": ')
    expect(
      (await rejected(loadKbsServerConfig({ ...flags, config: join(dir, 'broken.json') }))).code,
    ).toBe('ERR_KBS_CONFIG_SYNTAX')
  })

  it('refuses a TOML config that other TOML parsers read differently, naming where', async () => {
    // The checks every TOML parse site shares: smol-toml alone reads these (1979-03-02, Infinity,
    // TOML 1.1 syntax); the Rust toml crate and BurntSushi/toml refuse them.
    for (const [name, text, at] of [
      // Read as level "info" by smol-toml, refused by the TOML 1.0 parsers.
      ['escape.toml', '[log]\nlevel = "\\x69nfo"\n', [2, 10]],
      ['inline.toml', 'limits = {\n  body = "1MiB" }\n', [1, 11]],
      ['date.toml', '[workloads]\nsince = 1979-02-30\n', [2, 9]],
      ['float.toml', '[rate-limit]\nmax = 1e400\n', [2, 7]],
    ] as const) {
      await writeFile(join(dir, name), text)
      const error = await rejected(loadKbsServerConfig({ ...flags, config: join(dir, name) }))
      expect(error, name).toMatchObject({
        code: 'ERR_KBS_CONFIG_SYNTAX',
        details: { path: join(dir, name), line: at[0], column: at[1] },
      })
      expect(error.message, name).toContain(`config file "${join(dir, name)}"`)
    }
  })

  it('refuses a JSON config file that gives a setting twice (JSON.parse would keep the last)', async () => {
    for (const [name, text] of [
      ['top.json', '{"rate-limit":{"max":5},"rate-limit":{}}'],
      ['nested.json', '{"limits":{"body":"64KiB","body":"2MiB"}}'],
      ['escaped.json', '{"rate-limit":{"max":5,"m\\u0061x":50}}'],
    ] as const) {
      await writeFile(join(dir, name), text)
      const error = await rejected(loadKbsServerConfig({ ...flags, config: join(dir, name) }))
      expect(error, name).toMatchObject({ code: 'ERR_KBS_CONFIG_DUPLICATE_KEY' })
    }
    await writeFile(join(dir, 'once.json'), '{"rate-limit":{"max":5},"limits":{"body":"64KiB"}}')
    expect(await loadKbsServerConfig({ ...flags, config: join(dir, 'once.json') })).toMatchObject({
      rateLimit: { max: 5 },
      bodyLimitBytes: 65_536,
    })
  })

  it('refuses missing required settings and contradicting TLS settings', () => {
    expect(
      thrown(() => resolveKbsServerConfig({ ...flags, dataDir: undefined } as never)).message,
    ).toBe('missing --data-dir')
    expect(thrown(() => resolveKbsServerConfig({ ...flags, adminPublicKey: [] })).message).toBe(
      'missing --admin-public-key',
    )
    expect(thrown(() => resolveKbsServerConfig({ ...flags, tlsCert: 'c.pem' })).code).toBe(
      'ERR_KBS_TLS_OPTIONS',
    )
    expect(
      thrown(() =>
        resolveKbsServerConfig({ ...flags, tlsCert: 'c', tlsKey: 'k', insecureHttp: true }),
      ).code,
    ).toBe('ERR_KBS_TLS_OPTIONS')
  })
})

describe('lifetimes another replica checks by its own clock', () => {
  const resolved = (sessions: string, tokens: string) =>
    resolveKbsServerConfig(flags, {
      document: { sessions: { 'nonce-ttl': sessions }, tokens: { lifetime: tokens } },
      path: '/x/kbs.toml',
    })

  it(`are at least MIN_REPLICA_LIFETIME_MS (30 s), so a ${String(REPLICA_CLOCK_SKEW_MS)} ms skew leaves them most of their life`, () => {
    expect(MIN_REPLICA_LIFETIME_MS).toBe(30_000)
    const shortest = resolved('30s', '30s')
    expect([shortest.nonceTtlMs, shortest.tokenLifetimeMs]).toEqual([30_000, 30_000])
    for (const [ttl, lifetime, key] of [
      ['29999ms', '30s', 'sessions.nonce-ttl'],
      ['1s', '30s', 'sessions.nonce-ttl'],
      ['30s', '29s', 'tokens.lifetime'],
      ['30s', '29000ms', 'tokens.lifetime'],
    ] as const) {
      const error = thrown(() => resolved(ttl, lifetime))
      expect(error.code).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toMatch(new RegExp(`^${key} .* from 30s to 24h .*10 s apart`))
    }
  })
})

describe('the limits on hostile clients', () => {
  const limits = (values: Record<string, unknown>): ReturnType<typeof resolveKbsServerConfig> =>
    resolveKbsServerConfig(flags, { document: { limits: values }, path: '/x/kbs.toml' })

  it('read json-depth, max-header-size and the connection caps, with production defaults', () => {
    expect(KBS_CONFIG_DEFAULTS).toMatchObject({
      jsonMaxDepth: 64,
      maxHeaderBytes: 16_384,
      connections: { max: 4096, perClient: 256 },
    })
    expect(
      limits({
        'json-depth': 8,
        'max-header-size': '4KiB',
        'max-connections': 100,
        'max-connections-per-client': 10,
      }),
    ).toMatchObject({
      jsonMaxDepth: 8,
      maxHeaderBytes: 4096,
      connections: { max: 100, perClient: 10 },
    })
    // A total below the per-client default lowers the per-client cap with it.
    expect(limits({ 'max-connections': 50 }).connections).toEqual({ max: 50, perClient: 50 })
  })

  it('refuse a value that is no bound, naming the key', () => {
    const bad = (values: Record<string, unknown>): string => thrown(() => limits(values)).message
    expect(bad({ 'json-depth': 0 })).toMatch(/^limits.json-depth "0"/)
    expect(bad({ 'json-depth': '64' })).toMatch(/^limits.json-depth "64"/)
    expect(bad({ 'max-header-size': '512B' })).toMatch(
      /^limits.max-header-size "512B": expected a size from 1KiB to 1MiB/,
    )
    expect(bad({ 'max-header-size': '2MiB' })).toMatch(/^limits.max-header-size/)
    expect(bad({ 'max-connections': -1 })).toMatch(/^limits.max-connections "-1"/)
    expect(bad({ 'max-connections': 10, 'max-connections-per-client': 11 })).toMatch(
      /^limits.max-connections-per-client "11": expected a whole number from 1 to 10/,
    )
  })
})

describe('the admin audience', () => {
  const file = (document: unknown): { document: unknown; path: string } => ({
    document,
    path: '/x/kbs.toml',
  })

  it("is KBS (Trustee's) by default; admin-audience in the file or --admin-audience sets it, the flag winning", () => {
    expect(resolveKbsServerConfig(flags).adminAudience).toBe('KBS')
    const url = 'https://kbs.prod.example:8443'
    expect(resolveKbsServerConfig(flags, file({ 'admin-audience': url })).adminAudience).toBe(url)
    expect(
      resolveKbsServerConfig(
        { ...flags, adminAudience: 'urn:example:kbs:prod' },
        file({ 'admin-audience': url }),
      ).adminAudience,
    ).toBe('urn:example:kbs:prod')
    expect(
      resolveKbsServerConfig({ ...flags, adminAudience: 'kbs-[::1]_8443.prod~1' }).adminAudience,
    ).toBe('kbs-[::1]_8443.prod~1')
  })

  it('refuses a value that is not one audience, naming where it was given', () => {
    const malformed = [
      ...['', ' KBS', 'KBS ', 'K BS', 'a,b', '"KBS"', 'K\\BS', 'KBS\n', 'KBS\u0000'],
      ...['-KBS', '.kbs', '/kbs', 'kbs\u00e9', 'kbs\u202e', 'k'.repeat(256)],
    ]
    for (const bad of malformed) {
      const error = thrown(() => resolveKbsServerConfig({ ...flags, adminAudience: bad }))
      expect(error.code, JSON.stringify(bad)).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toMatch(/^--admin-audience /)
      expect(
        thrown(() => resolveKbsServerConfig(flags, file({ 'admin-audience': bad }))).message,
      ).toMatch(/^admin-audience /)
    }
    for (const wrongType of [['KBS'], 42, true, {}])
      expect(
        thrown(() => resolveKbsServerConfig(flags, file({ 'admin-audience': wrongType }))).code,
      ).toBe('ERR_KBS_CONFIG_VALUE')
    expect(resolveKbsServerConfig({ ...flags, adminAudience: 'k'.repeat(255) }).adminAudience).toBe(
      'k'.repeat(255),
    )
  })
})

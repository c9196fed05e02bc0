/**
 * Property tests of the KBS configuration readers: any config document (parsed JSON or TOML) and
 * any value text either configures the server or is refused with a stable code; never another
 * exception, and a listen address or size that is accepted reads back what was written.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { parseAdminPublicKey } from './admin-auth.ts'
import { parseDatabaseSetting } from './config-database.ts'
import { parseListen, parseSize } from './config-values.ts'
import { resolveKbsServerConfig } from './config.ts'

const flags = { dataDir: '/data', listen: '127.0.0.1:8443', adminPublicKey: ['/keys/admin.pub'] }

/** The code `run` refuses with, or `accepted`; anything but an InitguardError fails the test. */
function outcome(run: () => unknown): string {
  try {
    run()
    return 'accepted'
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
}

const CONFIG_CODES = [
  'accepted',
  'ERR_KBS_CONFIG_KEY',
  'ERR_KBS_CONFIG_VALUE',
  'ERR_USAGE',
  'ERR_KBS_TLS_OPTIONS',
]

/** Keys the config file knows, each with the keys of its table. */
const SECTIONS: Readonly<Record<string, readonly string[]>> = {
  limits: ['body', 'request-timeout', 'json-depth', 'max-header-size', 'max-connections'],
  sessions: ['nonce-ttl'],
  tokens: ['lifetime'],
  workloads: ['cache-max-age'],
  'collateral-cache': ['max-entries', 'max-size'],
  'collateral-downloads': ['max-concurrent', 'max-queued', 'not-found-ttl'],
  'rate-limit': ['max', 'window'],
  'under-pressure': ['max-event-loop-delay', 'max-heap-used', 'max-rss'],
  log: ['level'],
  postgres: ['pool-size', 'connect-timeout', 'insecure-transport'],
}
const TOP = ['data-dir', 'listen', 'tls-cert', 'tls-key', 'admin-public-key', 'database']

/** Values of the shapes settings take, and some that are wrong. */
const value = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom('5m', '0s', '1h', '2MiB', '64GiB', '65GiB', '1500ms', 'sqlite', '[::1]:1', ''),
  fc.stringMatching(/^[0-9]{1,6}(ms|s|m|h|B|KiB|MiB|GiB)?$/),
  fc.integer({ min: -2, max: 100_000 }),
)
const sectionDocument = fc
  .constantFrom(...Object.keys(SECTIONS))
  .chain((name) =>
    fc.tuple(
      fc.constant(name),
      fc.oneof(
        fc.dictionary(fc.constantFrom(...(SECTIONS[name] ?? [])), value, { maxKeys: 3 }),
        value,
      ),
    ),
  )
const document = fc
  .tuple(
    fc.array(sectionDocument, { maxLength: 3 }),
    fc.dictionary(fc.constantFrom(...TOP), value, { maxKeys: 2 }),
    fc.option(fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 1 }), { freq: 4 }),
  )
  .map(([sections, top, extra]) => ({ ...(extra ?? {}), ...top, ...Object.fromEntries(sections) }))

/** An integer setting given as a table whose own `toString` is not a function. */
const TO_STRING_TABLE = { 'collateral-downloads': { 'max-concurrent': { toString: 'x' } } }

describe('resolveKbsServerConfig properties', () => {
  it('any document configures the server or is refused with a config code', () => {
    fc.assert(
      fc.property(fc.oneof(document, fc.jsonValue()), (doc) => {
        const code = outcome(() =>
          resolveKbsServerConfig(flags, { document: doc, path: '/etc/kbs.json' }),
        )
        expect(CONFIG_CODES, code).toContain(code)
      }),
      // fc.jsonValue draws keys such as "toString"; such a table as an integer setting made the
      // refusal's String() throw a TypeError (found by a soak that drew these tables more often).
      { numRuns: 300, examples: [[TO_STRING_TABLE]] },
    )
  })

  it('a table with its own toString as an integer setting is refused with the config code', () => {
    for (const [section, key] of [
      ['collateral-downloads', 'max-concurrent'],
      ['limits', 'max-connections'],
      ['collateral-downloads', 'max-queued'],
    ] as const) {
      const doc = { [section]: { [key]: { toString: 'x' } } }
      const error = thrown(() => resolveKbsServerConfig(flags, { document: doc, path: '/k.toml' }))
      expect(error.code).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toContain(`${section}.${key} "{\\"toString\\":\\"x\\"}"`)
    }
  })

  it('a document with a null prototype (as smol-toml builds) reads as a plain one', () => {
    fc.assert(
      fc.property(document, (doc) => {
        const bare = Object.assign(Object.create(null) as object, doc)
        const read = (d: unknown): unknown => {
          try {
            return resolveKbsServerConfig(flags, { document: d, path: '/etc/kbs.toml' })
          } catch (error) {
            if (isInitguardError(error)) return error.code
            throw error
          }
        }
        expect(read(bare)).toEqual(read(doc))
      }),
      { numRuns: 200, examples: [[TO_STRING_TABLE]] },
    )
  })
})

describe('config value properties', () => {
  it('listen addresses, sizes, database settings and admin keys: accepted or a coded refusal', () => {
    const text = fc.oneof(
      fc.string(),
      fc.stringMatching(/^[a-z0-9:%@/.?=&[\]-]{0,60}$/),
      fc.stringMatching(/^postgres(ql)?:\/\/[a-z0-9:%@/.?=&[\]-]{0,40}$/),
    )
    fc.assert(
      fc.property(text, (t) => {
        expect(['accepted', 'ERR_KBS_CONFIG_VALUE']).toContain(outcome(() => parseListen(t, 'w')))
        expect(['accepted', 'ERR_KBS_CONFIG_VALUE']).toContain(outcome(() => parseSize(t, 'w')))
        expect(['accepted', 'ERR_KBS_CONFIG_VALUE']).toContain(
          outcome(() => parseDatabaseSetting(t, 'w')),
        )
        expect(outcome(() => parseAdminPublicKey(t, 'w'))).toBe('ERR_KBS_ADMIN_KEY')
      }),
      { numRuns: 500 },
    )
  })

  it('any IPv4, IPv6 or DNS host with any port reads back its host and port', () => {
    const host = fc.oneof(
      fc.ipV4(),
      fc.domain(),
      fc.ipV6().map((a) => `[${a}]`),
    )
    fc.assert(
      fc.property(host, fc.integer({ min: 0, max: 65535 }), (h, port) => {
        expect(parseListen(`${h}:${port}`, 'listen')).toEqual({
          host: h.replace(/^\[(.*)\]$/, '$1'),
          port,
        })
      }),
    )
  })

  it('a size reads back its bytes in every unit, up to 64 GiB', () => {
    const units = { B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 }
    fc.assert(
      fc.property(
        fc.constantFrom(...(Object.keys(units) as (keyof typeof units)[])),
        fc.integer({ min: 1, max: 1 << 20 }),
        (unit, n) => {
          const bytes = n * units[unit]
          const code = outcome(() => parseSize(`${n}${unit}`, 'size'))
          expect(code).toBe(bytes <= 64 * 1024 ** 3 ? 'accepted' : 'ERR_KBS_CONFIG_VALUE')
          if (code === 'accepted') expect(parseSize(`${n}${unit}`, 'size')).toBe(bytes)
        },
      ),
    )
  })
})

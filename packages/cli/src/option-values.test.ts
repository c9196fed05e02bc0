/**
 * No option of any command accepts a malformed value: the table is read from the commands' own
 * option specs, so a new option is covered as soon as it is declared. Free text (paths, host
 * names) is declared as such and only checked for emptiness.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { StringOptionSpec } from './command.ts'
import { MALFORMED_FIRMWARE_VERSIONS, runInProcess } from './cli-test-support.ts'
import { commandTable } from './main.ts'
import { TIME_VALUE, hexUpToValue, type ValueKind } from './option-values.ts'

const run = runInProcess

const BAD_TIMES = [
  '2026-02-30',
  '2026-02-29T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-00-10',
  '2026-01-01T24:00:00Z',
  '2026-01-01T12:60:00Z',
  '2026-01-01T12:00:60Z',
  '2026-01-01T12:00:00',
  '2026-01-01T12:00:00+24:00',
  '2026-01-01 12:00:00Z',
  '2026-1-1',
  '1767225600',
  'now',
  'yesterday',
  '2026-01-01T12:00:00.Z',
  '2026-01-01T12:00:00.1234567890Z',
]

/** Malformed values for a kind; a kind without a generator fails the test. */
function malformed(kind: ValueKind, example: string): fc.Arbitrary<string> {
  const whitespace = fc.constantFrom(
    '',
    ' ',
    '\t',
    '\n',
    ` ${example}`,
    `${example} `,
    `${example}\n`,
  )
  switch (kind.name) {
    case 'integer': {
      const inRange = fc.integer({ min: kind.min, max: kind.max }).map(String)
      return fc.oneof(
        whitespace,
        inRange.map((n) => `${n}x`),
        inRange.map((n) => `${n}.5`),
        inRange.map((n) => `${n}.0`),
        inRange.map((n) => `+${n}`),
        inRange.map((n) => `-${n === '0' ? '1' : n}`),
        inRange.map((n) => `0x${n}`),
        inRange.map((n) => `${n}e0`),
        fc.bigInt({ min: BigInt(kind.max) + 1n }).map(String),
        ...(kind.min > 0 ? [fc.integer({ min: 0, max: kind.min - 1 }).map(String)] : []),
        fc.constantFrom('NaN', 'Infinity', '١', '1_000', '1,000'),
      )
    }
    case 'hex': {
      const digits = kind.length * 2
      return fc.oneof(
        whitespace,
        fc
          .integer({ min: 0, max: digits * 2 })
          .filter((n) => n !== digits)
          .chain((n) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`))),
        fc
          .integer({ min: 0, max: digits - 1 })
          .map((i) => `${example.slice(0, i)}g${example.slice(i + 1)}`),
        fc.constant(`0x${example.slice(2)}`),
        fc.constant(`${example.slice(0, 2)} ${example.slice(3)}`),
        fc.constant(`${example.slice(0, 2)}:${example.slice(3)}`),
      )
    }
    case 'hex-up-to': {
      const maxDigits = kind.maxLength * 2
      return fc.oneof(
        whitespace,
        // An odd number of digits, or more than fit.
        fc
          .integer({ min: 0, max: kind.maxLength - 1 })
          .chain((n) => fc.stringMatching(new RegExp(`^[0-9a-f]{${2 * n + 1}}$`))),
        fc
          .integer({ min: maxDigits + 1, max: maxDigits * 2 })
          .chain((n) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`))),
        fc
          .integer({ min: 0, max: maxDigits - 1 })
          .map((i) => `${example.slice(0, i)}g${example.slice(i + 1)}`),
        fc.constant(`0x${example.slice(2)}`),
        fc.constant(`${example.slice(0, 2)} ${example.slice(3)}`),
      )
    }
    case 'choice':
      // A filtered constant that never passes would loop forever (upper-case choices: P-256).
      return fc.oneof(
        whitespace,
        fc.string().filter((s) => !kind.accepted.includes(s)),
        fc.constantFrom(
          ...[`${example}x`, example.toUpperCase(), example.toLowerCase()].filter(
            (s) => !kind.accepted.includes(s),
          ),
        ),
      )
    case 'time':
      return fc.oneof(whitespace, fc.constantFrom(...BAD_TIMES), fc.constant(`${example}x`))
    case 'snp-tcb':
      return fc.oneof(
        whitespace,
        fc.constantFrom(
          'bl=1',
          'bl=1,tee=0,snp=8',
          'bl=1,tee=0,snp=8,ucode=115,',
          'bl=1,bl=2,tee=0,snp=8,ucode=115',
          'bl=256,tee=0,snp=8,ucode=115',
          'bl=-1,tee=0,snp=8,ucode=115',
          'bl=1.5,tee=0,snp=8,ucode=115',
          'bl=1, tee=0,snp=8,ucode=115',
          'bl=1,tee=0,snp=8,ucode=115,xyz=1',
          'bl=0x1,tee=0,snp=8,ucode=115',
        ),
      )
    case 'snp-firmware':
      return fc.oneof(whitespace, fc.constantFrom(...MALFORMED_FIRMWARE_VERSIONS))
    case 'bit-rule': {
      const key = fc.constantFrom(...kind.keys)
      return fc.oneof(
        whitespace,
        key.map((k) => `${k}=2`),
        key.map((k) => `${k}=true`),
        key.map((k) => k),
        key.map((k) => `${k}=1,`),
        key.map((k) => `${k}=1,${k}=0`),
        key.map((k) => `${k}=1, ${k}=0`),
        key.map((k) => `${k.toUpperCase()}=0`),
        fc.constantFrom('debug=0', 'migrateMa=0', 'reserved6=0', 'bit16=0', '=1', ','),
      )
    }
    case 'rtmr':
      return fc.oneof(
        whitespace,
        fc.constantFrom(`4=${'ab'.repeat(48)}`, `0=${'ab'.repeat(47)}`, `0:${'ab'.repeat(48)}`),
        fc.constantFrom(`-1=${'ab'.repeat(48)}`, `0=0x${'ab'.repeat(47)}`, 'ab'.repeat(48)),
      )
    case 'platform':
      return fc.oneof(
        whitespace,
        fc.constantFrom(
          'linux',
          'linux/',
          '/amd64',
          'linux/amd64/v8/x',
          'linux amd64',
          'linux//v8',
        ),
      )
    case 'url':
      return fc.oneof(
        whitespace,
        fc.constantFrom(
          'example.com',
          'ftp://example.com',
          'http://',
          'file:///etc/passwd',
          'https//x',
        ),
      )
    case 'resource-path':
      // Dot segments above all: a URL resolves them, so they would name another resource.
      return fc.oneof(
        whitespace,
        fc.constantFrom(
          'default/app/x/../key',
          'prod/db/./password',
          'default/app/..',
          'default/app',
          'default/app/key/more',
          'default//key',
          'default/app/key/',
          '.hidden/app/key',
          'default/app/k%2Fey',
          'default/app/k ey',
        ),
      )
    case 'workload-name':
      return fc.oneof(
        whitespace,
        fc.constantFrom('Web', '-web', '.web', '..', 'a/b', 'we b', 'w'.repeat(64), 'wéb'),
      )
    case 'admin-audience':
      return fc.oneof(
        whitespace,
        fc.constantFrom('', 'a,b', '"KBS"', 'K BS', '-kbs', '/kbs', 'kbs\u00e9', 'k'.repeat(256)),
      )
    case 'registry-host':
      return fc.oneof(
        whitespace,
        fc.constantFrom(
          'http://localhost:5000',
          'https://quay.io',
          'localhost:5000/team',
          'quay.io/',
          'local host',
          '-quay.io',
          'quay.io:',
          '*.example.com',
        ),
      )
    case 'data-entry':
      // Keys the guest agent refuses (a path, a hidden file, the document's own name, control
      // characters), and entries that are not KEY=FILE. FILE is a path, which may end in a space.
      return fc.oneof(
        fc.constantFrom('', ' ', '\t', '\n', ` ${example}`, `\n${example}`),
        fc.constantFrom(
          '../x=f',
          'a/b=f',
          '.hidden=f',
          '..=f',
          'initdata.toml=f',
          'a\nb=f',
          'a\0b=f',
          '=f',
          'k=',
          'k',
          'k é=f',
          `${'k'.repeat(256)}=f`,
        ),
      )
    case 'tee-field-value':
      // Neither hex nor padded base64 whatever --encoding says.
      return fc.oneof(
        whitespace,
        fc.constantFrom('zz', 'abc', 'ab cd', 'ab:cd', '0x', '***', 'QUJ', 'QUJD\nREVG', '-1'),
      )
    case 'free':
      return fc.constant('')
  }
}

const stringOptions = (await commandTable()).flatMap(({ words, command }) =>
  Object.entries(command.options)
    .filter((entry): entry is [string, StringOptionSpec] => entry[1].type === 'string')
    .map(([name, spec]) => ({ words, name, spec })),
)

describe('the option table', () => {
  it('has string options of every command, each declaring its kind', () => {
    expect(stringOptions.length).toBeGreaterThan(30)
    const free = stringOptions.filter((o) => o.spec.value.kind.name === 'free').map((o) => o.name)
    // Free text is declared, and only these options take it.
    expect([...new Set(free)].sort()).toEqual([
      'aa',
      'admin-key',
      'admin-public-key',
      'amd-crl',
      'archive',
      'authfile',
      'ca',
      'cache-dir',
      'cdh',
      'cel',
      'certs',
      'collateral',
      'config',
      'crl',
      'data-dir',
      'database',
      'definition',
      'expect-initdata',
      'file',
      'from-file',
      'guest',
      'initdata',
      'intel-root',
      'kds-store',
      'listen',
      'master-key-file',
      'name',
      'out',
      'out-private',
      'out-public',
      'output',
      'pin',
      'policy',
      'registries-d',
      'resource',
      'runtime-dir',
      'sim-dir',
      'sim-guest',
      'socket',
      'tls-cert',
      'tls-key',
      'tpm',
      'trust-root',
      'trust-sim',
    ])
  })

  for (const { words, name, spec } of stringOptions) {
    it(`${words.join(' ')} --${name} (${spec.value.kind.name}) refuses malformed values with exit 2 naming it`, async () => {
      // --help after the options: values are parsed, then only the help is printed (nothing runs).
      expect((await run([...words, `--${name}`, spec.value.example, '--help'])).code).toBe(0)
      await fc.assert(
        fc.asyncProperty(malformed(spec.value.kind, spec.value.example), async (value) => {
          const refused = await run([...words, `--${name}=${value}`, '--help'])
          expect(refused.code).toBe(2)
          expect(refused.stderr).toContain(`initguard: --${name} `)
          expect(refused.stderr).toContain('code: ERR_OPTION_VALUE')
        }),
        { numRuns: spec.value.kind.name === 'free' ? 1 : 40 },
      )
    })
  }
})

describe('TIME_VALUE', () => {
  it('takes ISO 8601 times with a zone, fractions, offsets and dates (UTC)', () => {
    for (const [text, iso] of [
      ['2026-01-31T12:00:00Z', '2026-01-31T12:00:00.000Z'],
      ['2026-01-31T12:00Z', '2026-01-31T12:00:00.000Z'],
      ['2026-01-31T12:00:00.5+02:00', '2026-01-31T10:00:00.500Z'],
      ['2024-02-29', '2024-02-29T00:00:00.000Z'],
      ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ] as const) {
      expect(TIME_VALUE.parse(text, 'at').toISOString()).toBe(iso)
    }
    for (const text of ['1900-02-29', ...BAD_TIMES]) {
      expect(() => TIME_VALUE.parse(text, 'at')).toThrow(/--at/)
    }
  })
})

describe('hexUpToValue', () => {
  it('takes 1 to N whole bytes in either case, unpadded, and names what is wrong otherwise', () => {
    const kind = hexUpToValue(64, 'REPORT_DATA')
    expect([...kind.parse('0A', 'report-data')]).toEqual([10])
    expect(kind.parse('Ab'.repeat(64), 'report-data').length).toBe(64)
    const hintOf = (text: string): string | undefined => {
      try {
        kind.parse(text, 'report-data')
      } catch (error) {
        return (error as { hint?: string }).hint
      }
      return undefined
    }
    expect(hintOf('ab'.repeat(65))).toBe('got 65 bytes; at most 64 fit')
    expect(hintOf('abc')).toBe('got 3 hex digits: an odd number is not whole bytes')
    expect(hintOf('0xab')).toBe('drop the 0x prefix')
    expect(hintOf('zz')).toMatch(/hex digits only/)
  })
})

import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { parseInitdata } from './document.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)

const SAMPLE = `version = "0.1.0"
algorithm = "sha384"

[data]
"aa.toml" = '''
[token_configs.kbs]
url = "https://kbs.example:8080"
'''
"x-custom" = "kept"
`

/** The digest as the coreutils tool computes it over the same bytes. */
function coreutils(algorithm: string, bytes: Uint8Array): string {
  return execFileSync(`${algorithm}sum`, { input: bytes }).toString().split(' ')[0] ?? ''
}

function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  throw new Error('expected an error')
}

describe('parseInitdata', () => {
  it('parses the fields and keeps unknown data keys in order', () => {
    const doc = parseInitdata(enc(SAMPLE))
    expect(doc.version).toBe('0.1.0')
    expect(doc.algorithm).toBe('sha384')
    expect([...doc.data.keys()]).toEqual(['aa.toml', 'x-custom'])
    expect(doc.data.get('aa.toml')).toBe('[token_configs.kbs]\nurl = "https://kbs.example:8080"\n')
  })

  it('snapshots the input so later mutation cannot change what was hashed', () => {
    const bytes = enc(SAMPLE)
    const doc = parseInitdata(bytes)
    bytes[0] = 0x23
    expect(bytesToHex(doc.digest)).toBe(coreutils('sha384', enc(SAMPLE)))
    expect(doc.bytes).not.toBe(bytes)
  })

  const variants: [string, string][] = [
    ['with a trailing newline', SAMPLE],
    ['without a trailing newline', SAMPLE.slice(0, -1)],
    ['with CRLF line ends', SAMPLE.replace(/\n/g, '\r\n')],
    ['with non-ASCII text', SAMPLE.replace('kept', 'grüße, 日本, 🔐')],
    ['with a 1 MiB body', SAMPLE.replace('kept', 'x'.repeat(1024 * 1024))],
  ]
  for (const algorithm of ['sha256', 'sha384', 'sha512'] as const) {
    for (const [label, text] of variants) {
      it(`${algorithm} digest agrees with ${algorithm}sum ${label}`, () => {
        const bytes = enc(text.replace('sha384', algorithm))
        expect(bytesToHex(parseInitdata(bytes).digest)).toBe(coreutils(algorithm, bytes))
      })
    }
  }

  it('gives different digests for documents that differ only in the final newline', () => {
    const a = parseInitdata(enc(SAMPLE))
    const b = parseInitdata(enc(SAMPLE.slice(0, -1)))
    expect(bytesToHex(a.digest)).not.toBe(bytesToHex(b.digest))
  })

  const bad: [string, string, string][] = [
    ['empty file', '', 'ERR_INITDATA_EMPTY'],
    ['bad TOML', 'version = "0.1.0\n', 'ERR_INITDATA_TOML'],
    ['duplicate key', 'version = "0.1.0"\nversion = "0.1.0"\n', 'ERR_INITDATA_TOML'],
    ['wrong version', 'version = "0.2.0"\nalgorithm = "sha256"\n[data]\n', 'ERR_INITDATA_VERSION'],
    ['numeric version', 'version = 1\nalgorithm = "sha256"\n[data]\n', 'ERR_INITDATA_VERSION'],
    [
      'IANA algorithm name',
      'version = "0.1.0"\nalgorithm = "sha-256"\n[data]\n',
      'ERR_INITDATA_ALGORITHM',
    ],
    [
      'upper-case algorithm',
      'version = "0.1.0"\nalgorithm = "SHA256"\n[data]\n',
      'ERR_INITDATA_ALGORITHM',
    ],
    ['sm3', 'version = "0.1.0"\nalgorithm = "sm3"\n[data]\n', 'ERR_INITDATA_ALGORITHM'],
    ['missing version', 'algorithm = "sha256"\n[data]\n', 'ERR_INITDATA_MISSING_FIELD'],
    ['missing algorithm', 'version = "0.1.0"\n[data]\n', 'ERR_INITDATA_MISSING_FIELD'],
    ['missing data', 'version = "0.1.0"\nalgorithm = "sha256"\n', 'ERR_INITDATA_MISSING_FIELD'],
    [
      'unknown top-level key',
      'version = "0.1.0"\nalgorithm = "sha256"\ndigest = "00"\n[data]\n',
      'ERR_INITDATA_UNKNOWN_FIELD',
    ],
    [
      'data not a table',
      'version = "0.1.0"\nalgorithm = "sha256"\ndata = "x"\n',
      'ERR_INITDATA_DATA_NOT_TABLE',
    ],
    [
      'nested table in data',
      'version = "0.1.0"\nalgorithm = "sha256"\n[data.x]\ny = "1"\n',
      'ERR_INITDATA_DATA_VALUE',
    ],
    [
      'integer data value',
      'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = 1\n',
      'ERR_INITDATA_DATA_VALUE',
    ],
    [
      'array data value',
      'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = ["a"]\n',
      'ERR_INITDATA_DATA_VALUE',
    ],
  ]
  for (const [label, text, code] of bad) {
    it(`refuses ${label} with ${code}`, () => {
      expect(codeOf(() => parseInitdata(enc(text)))).toBe(code)
    })
  }

  it('names the offending key and how to fix it', () => {
    try {
      parseInitdata(enc('version = "0.1.0"\nalgorithm = "sha256"\n[data]\n"cdh.toml" = 3\n'))
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain('data."cdh.toml"')
      expect(isInitguardError(e) && e.hint).toContain('quote')
    }
    try {
      parseInitdata(enc('version = "0.1.0"\nalgorithm = "sha-384"\n[data]\n'))
    } catch (e) {
      expect(isInitguardError(e) && e.message).toContain('"sha256", "sha384", "sha512"')
    }
  })

  it('refuses TOML 1.1 syntax, which the Kata runtime and agent (TOML 1.0 parsers) refuse', () => {
    const head = 'version = "0.1.0"\nalgorithm = "sha256"\n'
    for (const text of [
      head + '[data]\na = "\\e[0m"\n',
      head + '[data]\na = "\\x41"\n',
      head + '[data]\n"\\x41" = "a"\n',
      head + '[data]\na = """\nx\\x41"""\n',
      head + 'data = {\n  a = "1"\n}\n',
      head + 'data = { a = "1", }\n',
    ])
      expect(
        codeOf(() => parseInitdata(enc(text))),
        JSON.stringify(text),
      ).toBe('ERR_INITDATA_TOML_1_1')
    // TOML 1.0 that looks alike stays accepted: escaped backslashes, quotes after a closing
    // delimiter, a multi-line string inside an inline table, commas and braces inside strings.
    for (const text of [
      head + '[data]\na = "\\\\e \\\\x41"\n',
      head + '[data]\na = """x\\\\""""\nb = \'\\x41\'\n',
      head + "data = { a = '''\nx''', b = \"}{,\" }\n",
      head + "[data]\na = '''x'''''\nb = \"\\\\x\" # {\n",
    ])
      expect(parseInitdata(enc(text)).version, JSON.stringify(text)).toBe('0.1.0')
  })

  it('reports the TOML line and column', () => {
    try {
      parseInitdata(enc('version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = \n'))
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.details['line']).toBe(4)
    }
  })

  it('refuses invalid UTF-8', () => {
    const bytes = Uint8Array.from([
      ...enc('version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = "'),
      0xff,
      0x22,
      0x0a,
    ])
    expect(codeOf(() => parseInitdata(bytes))).toBe('ERR_UTF8_INVALID')
  })

  it('never throws anything but an Initguard error, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        try {
          parseInitdata(bytes)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
        }
      }),
      { numRuns: 2000 },
    )
  })

  it('never throws anything but an Initguard error on TOML-like text', () => {
    const fragment = fc.constantFrom(
      'version = "0.1.0"\n',
      'algorithm = "sha256"\n',
      'algorithm = "md5"\n',
      '[data]\n',
      '[data.x]\n',
      'x = 1\n',
      "y = '''\n",
      '"k" = "v"\n',
      'data = []\n',
      '[[data]]\n',
      '= \n',
      '\u0000',
    )
    fc.assert(
      fc.property(fc.array(fragment, { maxLength: 12 }), (parts) => {
        try {
          parseInitdata(enc(parts.join('')))
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
        }
      }),
      { numRuns: 3000 },
    )
  })
})

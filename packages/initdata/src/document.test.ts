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

/**
 * SAMPLE with CRLF line ends, its aa.toml written as a one-line "…" string: a CRLF kept inside a
 * multi-line string is refused (see below).
 */
const SAMPLE_CRLF =
  'version = "0.1.0"\r\nalgorithm = "sha384"\r\n\r\n[data]\r\n' +
  '"aa.toml" = "[token_configs.kbs]\\nurl = \\"https://kbs.example:8080\\"\\n"\r\n' +
  '"x-custom" = "kept"\r\n'

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
    ['with CRLF line ends', SAMPLE_CRLF],
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

  it('refuses a float, date or time the Kata agent reads differently or refuses, naming it', () => {
    // Not a valid initdata value either way, but refused for what it is, where it is: Kata's TOML
    // parsers refuse it before they look at the fields (or, for Feb 30 in toml 0.5, keep the day).
    const head = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n'
    for (const [text, expected] of [
      [head + 'a = 1e400\n', 'ERR_INITDATA_TOML_VALUE 4:5'],
      [head + 'a = [-1e400]\n', 'ERR_INITDATA_TOML_VALUE 4:6'],
      [head + 'a = 1979-02-30\n', 'ERR_INITDATA_TOML_VALUE 4:5'],
      [head + 'a = 07:32:00.0000001\n', 'ERR_INITDATA_TOML_VALUE 4:5'],
      ['version = 1979-02-29\nalgorithm = "sha256"\n[data]\n', 'ERR_INITDATA_TOML_VALUE 1:11'],
      [head + 'a = 07:32\n', 'ERR_INITDATA_TOML_1_1 4:5'],
      // Not a string, but read alike by every parser: the value's own error.
      [head + 'a = 1e308\n', 'ERR_INITDATA_DATA_VALUE undefined:undefined'],
      [head + 'a = 1979-02-28\n', 'ERR_INITDATA_DATA_VALUE undefined:undefined'],
    ] as const) {
      let got = 'accepted'
      try {
        parseInitdata(enc(text))
      } catch (e) {
        if (!isInitguardError(e)) throw e
        got = `${e.code} ${String(e.details['line'])}:${String(e.details['column'])}`
      }
      expect(got, JSON.stringify(text)).toBe(expected)
    }
    // The same text in a string is data, kept as written.
    const doc = parseInitdata(enc(head + '"1e400" = "x = 1979-02-30"\nb = \'07:32\'\n'))
    expect(Object.fromEntries(doc.data)).toEqual({ '1e400': 'x = 1979-02-30', b: '07:32' })
  })

  describe('line ends and byte order marks that CoCo parsers read differently', () => {
    const head = 'version = "0.1.0"\nalgorithm = "sha256"\n[data]\n'

    /** The refusal's code and where it points, or 'accepted'. */
    function refusal(text: string): string {
      try {
        parseInitdata(enc(text))
        return 'accepted'
      } catch (e) {
        if (!isInitguardError(e)) throw e
        return `${e.code} ${String(e.details['line'])}:${String(e.details['column'])}`
      }
    }

    it('refuses a CRLF that a multi-line string keeps: Kata 3 reads LF, Kata 4 and Go CRLF', () => {
      expect(refusal(head + 'a = """x\r\ny"""\n')).toBe('ERR_INITDATA_TOML_CRLF 4:9')
      expect(refusal(head + "a = '''x\r\ny'''\n")).toBe('ERR_INITDATA_TOML_CRLF 4:9')
      expect(refusal(head + "a = '''\r\n\r\n'''\n")).toBe('ERR_INITDATA_TOML_CRLF 5:1')
      expect(refusal(head + 'a = """\\\n x\\\\\r\n"""\n')).toBe('ERR_INITDATA_TOML_CRLF 5:5')
      // A whole document saved with Windows line ends: the first kept CRLF is named.
      const windows = (head + "b = 'one line'\na = '''\nx = 1\n'''\n").replace(/\n/g, '\r\n')
      expect(refusal(windows)).toBe('ERR_INITDATA_TOML_CRLF 6:6')
      try {
        parseInitdata(enc(windows))
        expect.unreachable()
      } catch (e) {
        expect(isInitguardError(e) && e.message).toContain('line 6, column 6')
        expect(isInitguardError(e) && e.message).toContain('toml 0.5')
        expect(isInitguardError(e) && e.hint).toContain('LF line ends')
      }
    })

    it('accepts the CRLFs that every parser reads alike', () => {
      const text =
        'version = "0.1.0"\r\nalgorithm = "sha256" # c\r\n[data]\r\n' +
        'a = """\r\nx\\\r\n  \r\n  y\\  \r\nz"""\r\n' +
        "b = '''\r\nlit'''\r\n" +
        'c = "esc\\r\\n"\r\n' +
        'd = """q\\r\\n"""\r\n'
      expect(refusal(text)).toBe('accepted')
      expect(Object.fromEntries(parseInitdata(enc(text)).data)).toEqual({
        a: 'xyz',
        b: 'lit',
        c: 'esc\r\n',
        d: 'q\r\n',
      })
    })

    it('reads the same data whatever the line ends, or refuses (property)', () => {
      const piece = fc.constantFrom(
        ...[
          'a',
          ' ',
          '\t',
          '\n',
          '\r\n',
          '\\\n',
          '\\\r\n',
          '\\ \r\n',
          '\\r',
          '\\\\',
          "'",
          '"',
          '#',
        ],
      )
      const body = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''))
      const value = fc.oneof(
        body.map((b) => `"""${b}"""`),
        body.map((b) => `'''${b}'''`),
        body.map((b) => `"""\r\n${b}"""`),
      )
      const eol = fc.constantFrom('\n', '\r\n', ' # c\r\n')
      fc.assert(
        fc.property(fc.array(fc.tuple(value, eol), { maxLength: 3 }), (entries) => {
          const text = head + entries.map(([v, e], i) => `k${String(i)} = ${v}${e}`).join('')
          let data: ReadonlyMap<string, string>
          try {
            data = parseInitdata(enc(text)).data
          } catch (e) {
            expect(isInitguardError(e)).toBe(true)
            return
          }
          // The Rust toml 0.5 crate (the Kata agent before 4.0) reads every CRLF as LF.
          const asLf = parseInitdata(enc(text.replace(/\r\n/g, '\n'))).data
          expect(Object.fromEntries(data)).toEqual(Object.fromEntries(asLf))
        }),
        { numRuns: 3000 },
      )
    })

    it('refuses closing quotes right after a line-ending backslash, which smol-toml drops', () => {
      // Kata (Rust toml 0.5 and 1.x, BurntSushi/toml) and Trustee read 'x""' here; smol-toml 'x'.
      expect(refusal(head + 'a = """x\\\n  """""\n')).toBe('ERR_INITDATA_TOML_QUOTES 5:3')
      expect(refusal(head + 'a = """\\ \r\n""""\n')).toBe('ERR_INITDATA_TOML_QUOTES 5:1')
      // The same quotes after text, or escaped, are read alike.
      expect(refusal(head + 'a = """x\\\n  y"""""\n')).toBe('accepted')
      expect(refusal(head + 'a = """x\\\n  \\"\\""""\n')).toBe('accepted')
      expect(parseInitdata(enc(head + 'a = """x\\\n  \\"\\""""\n')).data.get('a')).toBe('x""')
    })

    it('skips one byte order mark, as every parser does, and refuses a second one', () => {
      const doc = parseInitdata(enc('\ufeff' + head))
      expect(bytesToHex(doc.digest)).toBe(coreutils('sha256', enc('\ufeff' + head)))
      expect(refusal('\ufeff\ufeff' + head)).toBe('ERR_INITDATA_TOML 1:1')
      try {
        parseInitdata(enc('\ufeff\ufeff' + head))
        expect.unreachable()
      } catch (e) {
        expect(isInitguardError(e) && e.message).toContain('byte order mark')
        expect(isInitguardError(e) && e.hint).toContain('without a byte order mark')
      }
    })
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
      'z = 1e400\n',
      'z = [1979-02-30, 07:32]\n',
      '1979-02-31 = { a = 07:32:00.1234 }\n',
      'w = -inf\n',
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

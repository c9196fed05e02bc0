import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import { parseInitdata } from './document.ts'
import { renderInitdata } from './render.ts'

const dec = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('renderInitdata', () => {
  it('renders the canonical layout with sorted keys', () => {
    const out = renderInitdata({
      algorithm: 'sha256',
      data: {
        'policy.rego': 'package agent_policy\n',
        'aa.toml': '[token_configs.kbs]\nurl = "x"\n',
      },
    })
    expect(dec(out)).toBe(
      'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n' +
        `"aa.toml" = '''\n[token_configs.kbs]\nurl = "x"\n'''\n` +
        `"policy.rego" = '''\npackage agent_policy\n'''\n`,
    )
  })

  it('gives the same bytes whatever the input order', () => {
    const a = renderInitdata({
      algorithm: 'sha384',
      data: new Map([
        ['b', '2'],
        ['a', '1'],
      ]),
    })
    const b = renderInitdata({
      algorithm: 'sha384',
      data: new Map([
        ['a', '1'],
        ['b', '2'],
      ]),
    })
    expect(dec(a)).toBe(dec(b))
  })

  const tricky: Record<string, string> = {
    'contains three quotes': "x = '''inner'''\n",
    'ends with a quote': "it's'\n",
    'ends with two quotes': "a\n''",
    'starts with a newline': '\nbody\n',
    'has CRLF': 'a\r\nb\r\n',
    'has a tab and control chars': 'a\tb\u0001c\u007f\n',
    'has backslashes and double quotes': 'path = "C:\\\\x" """ \\n\n',
    'single line with a quote': "it's",
    empty: '',
    unicode: 'grüße 🔐\n',
    'trailing backslash line': 'a \\\nb\n',
  }
  for (const [label, value] of Object.entries(tricky)) {
    it(`round-trips a value that ${label}`, () => {
      const doc = parseInitdata(
        renderInitdata({ algorithm: 'sha512', data: { 'cdh.toml': value, [label]: value } }),
      )
      expect(doc.data.get('cdh.toml')).toBe(value)
      expect(doc.data.get(label)).toBe(value)
    })
  }

  it('refuses text that cannot be UTF-8 and empty keys', () => {
    expect(() => renderInitdata({ algorithm: 'sha256', data: { a: '\ud800' } })).toThrow(
      /surrogate/,
    )
    expect(() => renderInitdata({ algorithm: 'sha256', data: { '': 'x' } })).toThrow(/empty/)
  })

  it('round-trips any keys and values (property)', () => {
    const text = fc.oneof(
      fc.string({ unit: 'grapheme', maxLength: 40 }),
      fc.string({
        unit: fc.constantFrom(
          "'",
          '"',
          '\n',
          '\r',
          '\\',
          'a',
          '\t',
          '\u0000',
          '\u007f',
          ' ',
          '#',
          '=',
        ),
        maxLength: 30,
      }),
    )
    fc.assert(
      fc.property(
        fc.dictionary(
          text.filter((k) => k.length > 0),
          text,
          { maxKeys: 5 },
        ),
        fc.constantFrom('sha256', 'sha384', 'sha512'),
        (data, algorithm) => {
          const bytes = renderInitdata({ algorithm, data })
          const doc = parseInitdata(bytes)
          expect(Object.fromEntries(doc.data)).toEqual(data)
          expect(doc.algorithm).toBe(algorithm)
          // Deterministic: rendering again gives the same bytes.
          expect(dec(renderInitdata({ algorithm, data: doc.data }))).toBe(dec(bytes))
        },
      ),
      { numRuns: 1500 },
    )
  })

  it('refuses only with Initguard errors (property)', () => {
    fc.assert(
      fc.property(
        fc.dictionary(
          fc.string({ unit: 'binary', maxLength: 8 }),
          fc.string({ unit: 'binary', maxLength: 20 }),
          { maxKeys: 3 },
        ),
        (data) => {
          try {
            parseInitdata(renderInitdata({ algorithm: 'sha256', data }))
          } catch (e) {
            expect(isInitguardError(e)).toBe(true)
          }
        },
      ),
    )
  })
})

import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseConfigToml } from './toml-table.ts'

const ERROR = {
  code: 'ERR_TEST_CONFIG_TOML',
  what: 'cdh.toml',
  hint: 'fix cdh.toml',
  details: { file: 'cdh.toml' },
} as const

/** The refusal's code, where it points and its message, or 'accepted'. */
function refusal(
  text: string,
): { code: string; at: string; message: string; hint: string } | 'accepted' {
  try {
    parseConfigToml(text, ERROR)
    return 'accepted'
  } catch (e) {
    if (!isInitguardError(e)) throw e
    return {
      code: e.code,
      at: `${String(e.details['file'])} ${String(e.details['line'])}:${String(e.details['column'])}`,
      message: e.message,
      hint: e.hint ?? '',
    }
  }
}

describe('parseConfigToml', () => {
  it('reads a table, with CRLF line ends between the entries', () => {
    expect(parseConfigToml('[kbc]\r\nurl = "https://kbs" # c\r\n', ERROR)).toEqual({
      kbc: { url: 'https://kbs' },
    })
  })

  it('names the syntax error, its line and column', () => {
    expect(refusal('[kbc]\nurl = \n')).toMatchObject({
      code: 'ERR_TEST_CONFIG_TOML',
      at: 'cdh.toml 2:7',
    })
  })

  it('refuses a CRLF that a multi-line string keeps: guest-components before 0.16 read LF', () => {
    const found = refusal("[image]\r\nimage_security_policy = '''\r\n{\"default\": []}\r\n'''\r\n")
    expect(found).toMatchObject({ code: 'ERR_TEST_CONFIG_TOML', at: 'cdh.toml 3:16' })
    expect(found !== 'accepted' && found.message).toContain('CRLF')
    expect(found !== 'accepted' && found.hint).toContain('LF line ends')
  })

  it('refuses closing quotes right after a line-ending backslash, which smol-toml drops', () => {
    const found = refusal('[image]\nimage_security_policy = """{}\\\n""""\n')
    expect(found).toMatchObject({ code: 'ERR_TEST_CONFIG_TOML', at: 'cdh.toml 3:1' })
    expect(found !== 'accepted' && found.hint).toContain('\\"')
  })

  it('refuses TOML 1.1 syntax, which guest-components before 0.16 (TOML 1.0) refuse', () => {
    for (const [text, at] of [
      ['[kbc]\nurl = "\\x41"\n', 'cdh.toml 2:8'],
      ['kbc = {\n  url = "x"\n}\n', 'cdh.toml 1:8'],
      ['kbc = { url = "x", }\n', 'cdh.toml 1:20'],
    ] as const) {
      const found = refusal(text)
      expect(found, JSON.stringify(text)).toMatchObject({ code: 'ERR_TEST_CONFIG_TOML', at })
      expect(found !== 'accepted' && found.message).toContain('TOML 1.1')
    }
  })

  it('refuses numbers and dates smol-toml reads as another value than the Rust toml crate', () => {
    for (const [text, at, words, fix] of [
      ['[kbc]\nretry = 1e400\n', 'cdh.toml 2:9', 'Infinity', 'inf / -inf'],
      ['[kbc]\nsince = 2023-02-29\n', 'cdh.toml 2:9', 'does not exist', 'date that exists'],
      ['[kbc]\nat = 07:32:00.0001\n', 'cdh.toml 2:6', 'millisecond', 'three digits'],
      ['[kbc]\nat = 07:32\n', 'cdh.toml 2:6', 'TOML 1.1', '07:32:00'],
    ] as const) {
      const found = refusal(text)
      expect(found, text).toMatchObject({ code: 'ERR_TEST_CONFIG_TOML', at })
      expect(found !== 'accepted' && found.message, text).toContain(words)
      expect(found !== 'accepted' && found.hint, text).toContain(fix)
      expect(found !== 'accepted' && found.hint, text).toContain('fix cdh.toml')
    }
  })
})

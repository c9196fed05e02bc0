import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToBase64, isInitguardError, stringToUtf8 } from '@initguard/core'
import { parsePckCertChainPem } from './certification-data.ts'
import { fakePemChain, thrown } from './quote-test-support.ts'

const block = (body: string, eol = '\n'): string =>
  `-----BEGIN CERTIFICATE-----${eol}${bytesToBase64(stringToUtf8(body))}${eol}-----END CERTIFICATE-----${eol}`
const text = (der: Uint8Array): string => new TextDecoder().decode(der)

describe('parsePckCertChainPem', () => {
  it('splits a NUL-terminated chain into certificates, in order', () => {
    const certs = parsePckCertChainPem(fakePemChain(3))
    expect(certs.map((c) => text(c.der))).toEqual([
      'certificate 1',
      'certificate 2',
      'certificate 3',
    ])
    expect(certs[0]?.pem).toBe(block('certificate 1'))
  })

  it('tolerates no terminator, several NULs, CRLF line ends and whitespace around the blocks', () => {
    for (const pem of [
      block('a') + block('b'),
      `${block('a')}${block('b')}\0\0\0`,
      block('a', '\r\n') + block('b', '\r\n'),
      `\n  ${block('a')}\n\n\t${block('b')}  \n\0`,
      `${block('a').trimEnd()}${block('b')}`,
    ]) {
      expect(parsePckCertChainPem(stringToUtf8(pem)).map((c) => text(c.der))).toEqual(['a', 'b'])
    }
  })

  it('tolerates base64 wrapped at any width', () => {
    const b64 = bytesToBase64(stringToUtf8('a longer certificate body that wraps'))
    const wrapped = b64.match(/.{1,10}/g)?.join('\n') ?? ''
    const pem = `-----BEGIN CERTIFICATE-----\n${wrapped}\n-----END CERTIFICATE-----\n`
    expect(text(parsePckCertChainPem(stringToUtf8(pem))[0]?.der ?? new Uint8Array())).toBe(
      'a longer certificate body that wraps',
    )
  })

  it('refuses anything outside the blocks but whitespace and trailing NULs', () => {
    const cases: [string, number][] = [
      [`junk${block('a')}`, 0],
      [`${block('a')}junk`, block('a').length],
      [`${block('a')}\0${block('b')}`, block('a').length],
      [`-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n`, 0],
    ]
    for (const [pem, position] of cases) {
      const error = thrown(() => parsePckCertChainPem(stringToUtf8(pem)))
      expect(error.code, JSON.stringify(pem)).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
      expect(error.details).toMatchObject({ position })
    }
  })

  it('refuses a block without END, bad or non-canonical base64, and an empty block', () => {
    for (const pem of [
      '-----BEGIN CERTIFICATE-----\nAAAA\n',
      '-----BEGIN CERTIFICATE-----\nAA*A\n-----END CERTIFICATE-----\n',
      '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n',
      '-----BEGIN CERTIFICATE-----\nAB==\n-----END CERTIFICATE-----\n',
      '-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n',
    ]) {
      expect(thrown(() => parsePckCertChainPem(stringToUtf8(pem))).code, pem).toBe(
        'ERR_TDX_QUOTE_PCK_CHAIN_INVALID',
      )
    }
  })

  it('refuses no certificate at all', () => {
    for (const data of [new Uint8Array(0), Uint8Array.of(0), stringToUtf8('\n \r\n\t')]) {
      expect(thrown(() => parsePckCertChainPem(data)).code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
    }
  })

  it('refuses bytes that are not printable ASCII, naming the position', () => {
    const pem = stringToUtf8(block('a'))
    for (const value of [0x00, 0x01, 0x1f, 0x7f, 0x80, 0xff]) {
      const damaged = pem.slice()
      damaged[30] = value
      const error = thrown(() => parsePckCertChainPem(damaged))
      expect(error.code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
      expect(error.details).toMatchObject({ position: 30 })
    }
  })

  it('throws nothing but InitguardError for any bytes', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc
            .array(fc.constantFrom(block('x'), '\n', ' ', '\0', 'AAAA', '-----', 'END', '='), {
              maxLength: 8,
            })
            .map((parts) => stringToUtf8(parts.join(''))),
        ),
        (data) => {
          try {
            const certs = parsePckCertChainPem(data)
            expect(certs.length).toBeGreaterThan(0)
          } catch (e) {
            if (!isInitguardError(e)) throw e
            expect(e.code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('the decoded-chain cache', () => {
  it('gives equal certificates for a repeated chain, each call its own copy', () => {
    const chain = fakePemChain(3)
    const first = parsePckCertChainPem(chain)
    const second = parsePckCertChainPem(Uint8Array.from(chain))
    expect(second).toEqual(first)
    const [leaf] = second
    if (leaf === undefined) throw new Error('no certificate')
    leaf.der[0] = (leaf.der[0] ?? 0) ^ 0xff
    expect(parsePckCertChainPem(chain)).toEqual(first)
  })

  it('keeps refusing a bad chain', () => {
    const bad = stringToUtf8('-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n')
    for (let i = 0; i < 2; i++) {
      expect(thrown(() => parsePckCertChainPem(bad)).code).toBe('ERR_TDX_QUOTE_PCK_CHAIN_INVALID')
    }
  })
})

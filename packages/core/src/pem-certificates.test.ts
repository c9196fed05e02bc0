/** Reading PEM certificates: real AMD root certificates, text around them, and broken input. */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { codeOf } from './der-test-support.ts'
import { pemCertificates } from './pem-certificates.ts'

const ASK_ARK = readFileSync(
  new URL('../../../testdata/vectors/snp/amd-roots/ask_ark_milan.pem', import.meta.url),
  'latin1',
)

describe('pemCertificates', () => {
  it('every block in order, text around them ignored', () => {
    const certificates = pemCertificates(`# the chain\n${ASK_ARK}\ntrailing words\n`, 'chain')
    expect(certificates.map((c) => c.subject)).toEqual([
      expect.stringContaining('SEV-Milan'),
      expect.stringContaining('ARK-Milan'),
    ])
  })

  it('no block, or a block that does not parse: ERR_TLS_CERTIFICATE_INVALID naming the field', () => {
    expect(codeOf(() => pemCertificates('not pem', 'CA certificate'))).toBe(
      'ERR_TLS_CERTIFICATE_INVALID',
    )
    expect(() => pemCertificates('-----BEGIN CERTIFICATE-----\nAAAA\n', 'pin')).toThrow(
      /the pin holds no PEM certificate/,
    )
    const broken = ASK_ARK.replace(/[A-Za-z]{8}\n/, '\n')
    expect(() => pemCertificates(broken, 'pin')).toThrow(/#1\) that does not parse/)
  })

  it('any text without a complete block is refused, never an empty list', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        expect(codeOf(() => pemCertificates(text, 'x'))).toBe('ERR_TLS_CERTIFICATE_INVALID')
      }),
    )
  })
})

import { execFileSync, execSync } from 'node:child_process'
import { crc32 } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import fc from 'fast-check'
import { bytesToBase64, isInitguardError } from '@initguard/core'
import { decodeAnnotation, encodeAnnotation, qemuPropertyFor } from './kata.ts'
import { gzip } from './gzip.ts'
import { parseInitdata } from './document.ts'
import { bindingFor } from './tee-binding.ts'

const enc = (s: string): Uint8Array => new TextEncoder().encode(s)
const DOC = enc(
  'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"policy.rego" = \'\'\'\npackage agent_policy\n\'\'\'\n',
)

describe('Kata annotation', () => {
  it('decodes what `gzip -c | base64 -w0` makes, to the same bytes and digest', () => {
    const value = execSync('gzip -c | base64 -w0', { input: DOC }).toString()
    const decoded = decodeAnnotation(value)
    expect(Buffer.from(decoded).equals(Buffer.from(DOC))).toBe(true)
    expect(parseInitdata(decoded).digest).toEqual(parseInitdata(DOC).digest)
  })

  it('makes a value that `base64 -d | gunzip` decodes to the same bytes', () => {
    const value = encodeAnnotation(DOC)
    const out = execSync('base64 -d | gunzip', { input: value })
    expect(out.equals(Buffer.from(DOC))).toBe(true)
  })

  it('accepts wrapped base64 (as `base64` prints without -w0), also with CRLF line ends', () => {
    const wrapped = execSync('gzip -9 -c | base64', { input: DOC }).toString()
    expect(wrapped).toContain('\n')
    expect(decodeAnnotation(wrapped)).toEqual(DOC)
    expect(decodeAnnotation(wrapped.replace(/\n/g, '\r\n'))).toEqual(DOC)
  })

  it('refuses several gzip members: the Kata readers disagree on them', () => {
    // The Go runtime reads every member, the agent and runtime-rs only the first: which document
    // the pod gets would depend on who reads it.
    const half = DOC.length >> 1
    const twoMembers = bytesToBase64(
      Uint8Array.from([...gzip(DOC.subarray(0, half)), ...gzip(DOC.subarray(half))]),
    )
    expect(codeOf(() => decodeAnnotation(twoMembers))).toBe('ERR_GZIP_MEMBERS')
    const emptySecond = bytesToBase64(Uint8Array.from([...gzip(DOC), ...gzip(new Uint8Array())]))
    expect(codeOf(() => decodeAnnotation(emptySecond))).toBe('ERR_GZIP_MEMBERS')
  })

  it('refuses blanks other than line breaks around the value, as the Kata runtime does', () => {
    const good = encodeAnnotation(DOC)
    for (const blank of [' ', '\t', '\u00a0', '\ufeff'])
      for (const value of [blank + good, good + blank])
        expect(
          codeOf(() => decodeAnnotation(value)),
          JSON.stringify(value.slice(-2)),
        ).toBe('ERR_BASE64_INVALID')
    expect(decodeAnnotation(`${good}\n`)).toEqual(DOC)
    expect(codeOf(() => decodeAnnotation('\r\n'))).toBe('ERR_ANNOTATION_EMPTY')
  })

  it('reads a gzip header with an extra field, a name, a comment and a header CRC', () => {
    const plain = gzip(DOC)
    const header = Uint8Array.from([
      ...plain.subarray(0, 3),
      0x02 | 0x04 | 0x08 | 0x10,
      ...plain.subarray(4, 10),
      ...[4, 0, 1, 2, 3, 4],
      ...enc('initdata.toml\0'),
      ...enc('note\0'),
    ])
    const crc = crc32(header)
    const flagged = Uint8Array.from([
      ...header,
      crc & 0xff,
      (crc >>> 8) & 0xff,
      ...plain.subarray(10),
    ])
    expect(decodeAnnotation(bytesToBase64(flagged))).toEqual(DOC)
    expect(execSync('gunzip -c', { input: flagged }).equals(Buffer.from(DOC))).toBe(true)
  })

  it('is deterministic', () => {
    expect(encodeAnnotation(DOC)).toBe(encodeAnnotation(Uint8Array.from(DOC)))
  })

  it('refuses bad base64, truncated gzip, trailing bytes, non-gzip and bombs', () => {
    const good = encodeAnnotation(DOC)
    expect(codeOf(() => decodeAnnotation('not base64!'))).toBe('ERR_BASE64_INVALID')
    expect(codeOf(() => decodeAnnotation(good.slice(0, -1)))).toBe('ERR_BASE64_INVALID')
    expect(codeOf(() => decodeAnnotation(good.replace(/=+$/, '')))).toMatch(/ERR_BASE64_INVALID/)
    const gz = gzip(DOC)
    expect(codeOf(() => decodeAnnotation(bytesToBase64(gz.subarray(0, gz.length - 4))))).toBe(
      'ERR_GZIP_INVALID',
    )
    expect(codeOf(() => decodeAnnotation(bytesToBase64(Uint8Array.from([...gz, 0, 0, 0]))))).toBe(
      'ERR_GZIP_INVALID',
    )
    expect(codeOf(() => decodeAnnotation(bytesToBase64(DOC)))).toBe('ERR_GZIP_INVALID')
    expect(codeOf(() => decodeAnnotation(''))).toBe('ERR_ANNOTATION_EMPTY')
    const bomb = bytesToBase64(gzip(new Uint8Array(2 * 1024 * 1024)))
    expect(codeOf(() => decodeAnnotation(bomb, { maxSize: 1024 * 1024 }))).toBe(
      'ERR_GZIP_TOO_LARGE',
    )
    const corrupt = Uint8Array.from(gz)
    corrupt[12] = (corrupt[12] ?? 0) ^ 0xff
    expect(codeOf(() => decodeAnnotation(bytesToBase64(corrupt)))).toBe('ERR_GZIP_INVALID')
  })

  it('never throws anything but an Initguard error (property)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.base64String(),
          fc.uint8Array().map((b) => bytesToBase64(Uint8Array.from([0x1f, 0x8b, ...b]))),
        ),
        (value) => {
          try {
            decodeAnnotation(value)
          } catch (e) {
            expect(isInitguardError(e)).toBe(true)
          }
        },
      ),
      { numRuns: 2000 },
    )
  })
})

describe('QEMU properties', () => {
  it('puts the fitted digest, base64-encoded, in host-data and mrconfigid', () => {
    const doc = parseInitdata(DOC)
    const snp = qemuPropertyFor(bindingFor('snp', doc.algorithm, doc.digest))
    const tdx = qemuPropertyFor(bindingFor('tdx', doc.algorithm, doc.digest))
    const sha = execFileSync('sha256sum', { input: DOC }).toString().slice(0, 64)
    expect(snp?.argument).toBe(`host-data=${Buffer.from(sha, 'hex').toString('base64')}`)
    expect(snp?.object).toBe('sev-snp-guest')
    expect(tdx?.object).toBe('tdx-guest')
    expect(Buffer.from(tdx?.value ?? '', 'base64').toString('hex')).toBe(sha + '00'.repeat(16))
    expect(qemuPropertyFor(bindingFor('sgx', doc.algorithm, doc.digest))).toBeUndefined()
  })
})

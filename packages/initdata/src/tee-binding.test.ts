import { execFileSync } from 'node:child_process'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { INITDATA_ALGORITHMS } from './algorithms.ts'
import { parseInitdata } from './document.ts'
import { TEE_FIELDS, bestAlgorithmFor, bindingFor, expectedPcr8, fitDigest } from './tee-binding.ts'
import { checkBinding } from './binding-check.ts'

/**
 * An independent computation (Python's hashlib, not node:crypto) of the digest, every TEE field
 * value and the vTPM PCR 8 value for each document.
 */
function pythonBindings(docs: Uint8Array[]): Record<string, string>[] {
  const script = `
import hashlib, json, sys
out = []
for hexdoc in json.load(sys.stdin):
    doc = bytes.fromhex(hexdoc)
    alg = 'sha256' if b'"sha256"' in doc else 'sha384' if b'"sha384"' in doc else 'sha512'
    d = hashlib.new(alg, doc).digest()
    r = {'digest': d.hex()}
    for tee, n in (('snp', 32), ('tdx', 48), ('sgx', 64), ('cca', 64), ('se', 256)):
        r[tee] = (d[:n] + b'\\0' * max(0, n - len(d))).hex()
    if len(d) == 32:
        r['vtpm'] = hashlib.sha256(b'\\0' * 32 + d).hexdigest()
    out.append(r)
json.dump(out, sys.stdout)
`
  const input = JSON.stringify(docs.map((d) => bytesToHex(d)))
  return JSON.parse(execFileSync('python3', ['-c', script], { input }).toString()) as Record<
    string,
    string
  >[]
}

const doc = (algorithm: string, body: string): Uint8Array =>
  new TextEncoder().encode(
    `version = "0.1.0"\nalgorithm = "${algorithm}"\n\n[data]\n"x" = '''\n${body}\n'''\n`,
  )

describe('TEE field fitting', () => {
  it('agrees with an independent computation for every algorithm and TEE', () => {
    const docs = INITDATA_ALGORITHMS.flatMap((a) => [
      doc(a, ''),
      doc(a, 'grüße'),
      doc(a, 'x'.repeat(100_000)),
    ])
    const expected = pythonBindings(docs)
    docs.forEach((bytes, i) => {
      const d = parseInitdata(bytes)
      const want = expected[i] ?? {}
      expect(bytesToHex(d.digest)).toBe(want['digest'])
      for (const tee of ['snp', 'tdx', 'sgx', 'cca', 'se'] as const) {
        expect(bytesToHex(bindingFor(tee, d.algorithm, d.digest).value)).toBe(want[tee])
      }
      if (d.algorithm === 'sha256') {
        expect(bytesToHex(bindingFor('vtpm', d.algorithm, d.digest).value)).toBe(want['vtpm'])
      }
    })
  })

  it('warns when a digest is truncated, and only then', () => {
    const d384 = parseInitdata(doc('sha384', ''))
    expect(bindingFor('snp', d384.algorithm, d384.digest).warnings[0]).toMatch(/truncated.*sha256/)
    expect(bindingFor('tdx', d384.algorithm, d384.digest).warnings).toEqual([])
    const d512 = parseInitdata(doc('sha512', ''))
    expect(bindingFor('tdx', d512.algorithm, d512.digest).warnings[0]).toMatch(/truncated.*sha384/)
    expect(bindingFor('sgx', d512.algorithm, d512.digest).warnings).toEqual([])
  })

  it('refuses sha384 and sha512 on vTPM with a clear error, not a crash', () => {
    for (const a of ['sha384', 'sha512'] as const) {
      const d = parseInitdata(doc(a, ''))
      try {
        bindingFor('vtpm', d.algorithm, d.digest)
        expect.unreachable()
      } catch (e) {
        expect(isInitguardError(e) && e.code).toBe('ERR_INITDATA_VTPM_DIGEST_LENGTH')
        expect(isInitguardError(e) && e.hint).toMatch(/sha256/)
      }
    }
  })

  it('fits by cutting or zero-padding on the right (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), fc.integer({ min: 0, max: 300 }), (d, n) => {
        const out = fitDigest(d, n)
        expect(out.length).toBe(n)
        for (let i = 0; i < n; i++) expect(out[i]).toBe(i < d.length ? d[i] : 0)
      }),
    )
  })

  it('PCR 8 is one extend from reset', () => {
    const d = new Uint8Array(32).fill(7)
    expect(expectedPcr8(d).length).toBe(32)
    expect(bytesToHex(expectedPcr8(d))).not.toBe(bytesToHex(d))
  })

  it('picks the longest algorithm that fits whole', () => {
    expect(bestAlgorithmFor(TEE_FIELDS.snp.length)).toBe('sha256')
    expect(bestAlgorithmFor(TEE_FIELDS.tdx.length)).toBe('sha384')
    expect(bestAlgorithmFor(TEE_FIELDS.sgx.length)).toBe('sha512')
  })
})

describe('checkBinding', () => {
  it('accepts the fitted value and refuses anything else with expected and actual', () => {
    const d = parseInitdata(doc('sha384', 'a'))
    const good = bindingFor('tdx', d.algorithm, d.digest).value
    expect(checkBinding(d, 'tdx', good).value).toEqual(good)
    const bad = Uint8Array.from(good)
    bad[47] = (bad[47] ?? 0) ^ 1
    try {
      checkBinding(d, 'tdx', bad)
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.code).toBe('ERR_INITDATA_BINDING_MISMATCH')
      expect(isInitguardError(e) && e.category).toBe('expectation')
      expect(isInitguardError(e) && e.details['actual']).toBe(bytesToHex(good))
    }
    expect(() => checkBinding(d, 'snp', d.digest)).toThrow(
      /48 bytes where SEV-SNP HOST_DATA has 32/,
    )
  })
})

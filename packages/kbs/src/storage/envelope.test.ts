import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { outcome, thrown } from '@initguard/testkit'
import { Envelope, masterKeyFingerprint } from './envelope.ts'

const key = (fill: number): Uint8Array => new Uint8Array(32).fill(fill)
const row = { kind: 'resource', id: 'default/key/one' } as const

describe('Envelope', () => {
  it('round-trips values of any length, with a fresh data key and IVs each time', () => {
    const envelope = new Envelope(key(1))
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (value) => {
        const sealed = envelope.seal(row, value)
        expect(envelope.open(row, sealed)).toEqual(value)
        expect(envelope.seal(row, value)).not.toEqual(sealed)
      }),
      { numRuns: 50 },
    )
  })

  it('does not store the value in clear', () => {
    const value = new TextEncoder().encode('a secret that must not show')
    const sealed = Buffer.from(new Envelope(key(1)).seal(row, value))
    expect(sealed.includes(Buffer.from(value))).toBe(false)
  })

  it('refuses any flipped bit', () => {
    const envelope = new Envelope(key(1))
    const sealed = envelope.seal(row, new Uint8Array(40).fill(9))
    for (let at = 0; at < sealed.length; at++) {
      const tampered = sealed.slice()
      tampered[at] = (tampered[at] ?? 0) ^ 0x01
      const result = outcome(() => envelope.open(row, tampered))
      // The first 9 bytes are the header: a changed version or fingerprint is named as such.
      const expected =
        at === 0
          ? 'verification ERR_KBS_ENVELOPE_FORMAT'
          : at < 9
            ? 'verification ERR_KBS_MASTER_KEY_WRONG'
            : 'verification ERR_KBS_ENVELOPE_INTEGRITY'
      expect(result, `byte ${String(at)}`).toBe(expected)
    }
  })

  it('refuses a value moved to another row or another table', () => {
    const envelope = new Envelope(key(1))
    const sealed = envelope.seal(row, new Uint8Array([1, 2, 3]))
    expect(
      thrown(() => envelope.open({ kind: 'resource', id: 'default/key/two' }, sealed)).code,
    ).toBe('ERR_KBS_ENVELOPE_INTEGRITY')
    expect(thrown(() => envelope.open({ kind: 'signing-key', id: row.id }, sealed)).code).toBe(
      'ERR_KBS_ENVELOPE_INTEGRITY',
    )
  })

  it('says "wrong master key" for a value sealed under another key, not garbage', () => {
    const sealed = new Envelope(key(1)).seal(row, new Uint8Array([1, 2, 3]))
    const error = thrown(() => new Envelope(key(2)).open(row, sealed))
    expect(error.code).toBe('ERR_KBS_MASTER_KEY_WRONG')
    expect(error.message).toContain('different master key')
  })

  it('refuses a truncated value and a master key of the wrong length', () => {
    const envelope = new Envelope(key(1))
    const sealed = envelope.seal(row, new Uint8Array(5))
    expect(thrown(() => envelope.open(row, sealed.subarray(0, 96))).code).toBe(
      'ERR_KBS_ENVELOPE_FORMAT',
    )
    expect(thrown(() => envelope.open(row, sealed.subarray(0, sealed.length - 1))).code).toBe(
      'ERR_KBS_ENVELOPE_INTEGRITY',
    )
    expect(thrown(() => new Envelope(new Uint8Array(16))).code).toBe('ERR_KBS_MASTER_KEY_LENGTH')
  })

  it('fingerprints keys apart without revealing them', () => {
    const master = new Uint8Array(randomBytes(32))
    expect(masterKeyFingerprint(master)).toHaveLength(8)
    expect(masterKeyFingerprint(master)).toEqual(new Envelope(master).fingerprint)
    expect(masterKeyFingerprint(master)).not.toEqual(masterKeyFingerprint(key(0)))
  })
})

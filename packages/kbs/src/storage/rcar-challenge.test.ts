import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { KBS_SUPPORTED_TEES } from '@initguard/kbs-protocol'
import { CHALLENGE_COOKIE_LENGTH, RcarChallengeCodec } from './rcar-challenge.ts'

const key = new Uint8Array(randomBytes(32))
const codec = new RcarChallengeCodec(key)
const expiresAt = new Date('2026-12-01T10:05:00.123Z')

/** `hex` with the character at `index` replaced by another hex digit. */
function flipped(hex: string, index: number, by: number): string {
  const digit = ((parseInt(hex[index] ?? '0', 16) + by) % 16).toString(16)
  return hex.slice(0, index) + digit + hex.slice(index + 1)
}

describe('RcarChallengeCodec', () => {
  it('opens what it issued: id, TEE, expiry, and the same nonce', () => {
    for (const tee of KBS_SUPPORTED_TEES) {
      const issued = codec.issue(tee, expiresAt)
      expect(issued.cookie).toMatch(new RegExp(`^[0-9a-f]{${String(CHALLENGE_COOKIE_LENGTH)}}$`))
      expect(issued.id).toMatch(/^[0-9a-f]{32}$/)
      expect(issued.nonce).toMatch(/^[A-Za-z0-9+/]{43}=$/)
      const { cookie, ...challenge } = issued
      expect(codec.open(cookie)).toEqual(challenge)
      // Another codec on the same master key (another replica) opens it the same.
      expect(new RcarChallengeCodec(key).open(cookie)).toEqual(challenge)
    }
  })

  it('writes the TEE byte of the fixed table (0 snp, 1 tdx, 2 sgx), whatever the exported list', () => {
    // Every TEE the protocol supports has its byte (the first test opens each), and no other.
    expect([...KBS_SUPPORTED_TEES].sort()).toEqual(['sgx', 'snp', 'tdx'])
    const id = new Uint8Array(16).fill(1)
    for (const [byte, tee] of [
      [0, 'snp'],
      [1, 'tdx'],
      [2, 'sgx'],
    ] as const) {
      const { cookie } = codec.issue(tee, expiresAt, id)
      // Byte 25 of the body: hex characters 50–51.
      expect(cookie.slice(50, 52)).toBe(byte.toString(16).padStart(2, '0'))
      expect(codec.open(cookie)?.tee).toBe(tee)
    }
  })

  it('gives every challenge its own id and nonce', () => {
    const a = codec.issue('snp', expiresAt)
    const b = codec.issue('snp', expiresAt)
    expect(a.id).not.toBe(b.id)
    expect(a.nonce).not.toBe(b.nonce)
  })

  it('derives the nonce from the body under the key: same body, same key, same nonce; not the id', () => {
    const id = new Uint8Array(16).fill(7)
    expect(codec.issue('snp', expiresAt, id).nonce).toBe(codec.issue('snp', expiresAt, id).nonce)
    const other = new RcarChallengeCodec(new Uint8Array(randomBytes(32)))
    expect(other.issue('snp', expiresAt, id).nonce).not.toBe(
      codec.issue('snp', expiresAt, id).nonce,
    )
    expect(codec.issue('tdx', expiresAt, id).nonce).not.toBe(
      codec.issue('snp', expiresAt, id).nonce,
    )
  })

  it('refuses a cookie made under another master key', () => {
    const other = new RcarChallengeCodec(new Uint8Array(randomBytes(32)))
    expect(codec.open(other.issue('snp', expiresAt).cookie)).toBeUndefined()
  })

  it('refuses a cookie with any character changed (version, id, expiry, TEE or MAC)', () => {
    const { cookie } = codec.issue('tdx', expiresAt)
    for (let index = 0; index < cookie.length; index++)
      for (const by of [1, 8, 15]) expect(codec.open(flipped(cookie, index, by))).toBeUndefined()
  })

  it('refuses another length, case or alphabet, and never throws', () => {
    const { cookie } = codec.issue('snp', expiresAt)
    for (const bad of [
      '',
      cookie.slice(2),
      `${cookie}00`,
      cookie.toUpperCase(),
      `${cookie.slice(0, -1)}g`,
      ` ${cookie.slice(1)}`,
      'a'.repeat(32),
    ])
      expect(codec.open(bad)).toBeUndefined()
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        expect(codec.open(text)).toBeUndefined()
      }),
    )
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: CHALLENGE_COOKIE_LENGTH / 2, maxLength: 58 }),
        (bytes) => {
          expect(codec.open(Buffer.from(bytes).toString('hex'))).toBeUndefined()
        },
      ),
    )
  })

  it('refuses to issue for an unknown TEE, a bad time or a short id', () => {
    expect(() => codec.issue('sev' as never, expiresAt)).toThrow(RangeError)
    expect(() => codec.issue('snp', new Date(Number.NaN))).toThrow(RangeError)
    expect(() => codec.issue('snp', expiresAt, new Uint8Array(8))).toThrow(RangeError)
  })
})

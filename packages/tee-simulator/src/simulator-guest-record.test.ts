/**
 * The guest record parser, adversarially: every record it writes reads back equal; any other
 * bytes, and any one value changed, are refused with a coded local-io error (never a crash, never
 * a record that differs from what the bytes say).
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { bytesToHex, isInitguardError } from '@initguard/core'
import { DIGEST_LENGTHS, INITDATA_ALGORITHMS, TEE_FIELDS, fitDigest } from '@initguard/initdata'
import { thrown } from '@initguard/testkit'
import {
  checkGuestName,
  encodeSimulatedGuestRecord,
  guestRecordFile,
  isSimulatedGuestName,
  parseSimulatedGuestRecord,
  type SimulatedGuestRecord,
} from './simulator-guest-record.ts'

const NAME_CHARS = 'abcdefghijklmnopqrstuvwxyz0123456789._-'.split('')

const guestName = fc
  .tuple(
    fc.constantFrom(...NAME_CHARS.slice(0, 36)),
    fc.array(fc.constantFrom(...NAME_CHARS), { maxLength: 62 }),
  )
  .map(([first, rest]) => first + rest.join(''))

const validRecord: fc.Arbitrary<SimulatedGuestRecord> = fc
  .record({
    name: guestName,
    tee: fc.constantFrom('snp' as const, 'tdx' as const),
    algorithm: fc.constantFrom(...INITDATA_ALGORITHMS),
    seed: fc.uint8Array({ minLength: 64, maxLength: 64 }),
    time: fc.integer({ min: 0, max: 4_000_000_000 }),
    debug: fc.boolean(),
    migratable: fc.boolean(),
  })
  .map(({ name, tee, algorithm, seed, time, debug, migratable }) => {
    const digest = seed.subarray(0, DIGEST_LENGTHS[algorithm])
    return {
      format: 'initguard-simulated-guest',
      version: 1,
      name,
      tee,
      launched: new Date(time * 1000).toISOString().replace('.000Z', 'Z'),
      init_data_field: bytesToHex(fitDigest(digest, TEE_FIELDS[tee].length)),
      algorithm,
      initdata_digest: bytesToHex(digest),
      debug,
      migratable,
    }
  })

const parse = (bytes: Uint8Array, name: string): SimulatedGuestRecord =>
  parseSimulatedGuestRecord(bytes, name, `guests/${name}.json`)

describe('parseSimulatedGuestRecord', () => {
  it('reads back every record it writes', () => {
    fc.assert(
      fc.property(validRecord, (record) => {
        expect(parse(encodeSimulatedGuestRecord(record), record.name)).toEqual(record)
      }),
    )
  })

  it('refuses any one value replaced by another JSON value, with a coded local-io error', () => {
    fc.assert(
      fc.property(
        validRecord,
        fc.constantFrom(
          ...([
            'format',
            'version',
            'name',
            'tee',
            'launched',
            'init_data_field',
            'algorithm',
            'initdata_digest',
            'debug',
            'migratable',
          ] as const),
        ),
        fc.jsonValue(),
        (record, key, value) => {
          fc.pre(JSON.stringify(value) !== JSON.stringify(record[key]))
          // A flag flipped to the other boolean is a different, valid record: not a tampering the
          // parser can see (the record is not signed), so it must read back as what it says.
          const changed = { ...record, [key]: value }
          const bytes = new TextEncoder().encode(JSON.stringify(changed))
          if (typeof value === 'boolean' && (key === 'debug' || key === 'migratable')) {
            expect(parse(bytes, record.name)[key]).toBe(value)
            return
          }
          const error = thrown(() => parse(bytes, record.name))
          expect(error.category).toBe('io')
          expect(error.code).toMatch(/^ERR_SIM_GUEST_(INVALID|VERSION)$/)
        },
      ),
    )
  })

  it('refuses arbitrary bytes and JSON with a coded error only', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 300 }),
          fc.jsonValue().map((v) => new TextEncoder().encode(JSON.stringify(v))),
        ),
        (bytes) => {
          try {
            parse(bytes, 'web')
          } catch (error) {
            expect(isInitguardError(error)).toBe(true)
            return
          }
          throw new Error('accepted bytes that are not a record')
        },
      ),
    )
  })
})

describe('guest names', () => {
  it('accepts exactly [a-z0-9][a-z0-9._-]{0,62}, and makes a path inside guests/', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 70 }), (name) => {
        const valid = /^[a-z0-9][a-z0-9._-]{0,62}$/.test(name)
        expect(isSimulatedGuestName(name)).toBe(valid)
        if (valid) expect(guestRecordFile(name)).toBe(`guests/${name}.json`)
        else expect(thrown(() => checkGuestName(name)).code).toBe('ERR_SIM_GUEST_NAME')
      }),
    )
    fc.assert(fc.property(guestName, (name) => isSimulatedGuestName(name)))
  })
})

import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseDer } from './der-parse.ts'
import { ascii, codeOf, hex, prim, thrown } from './der-test-support.ts'
import { decodeDerGeneralizedTime, decodeDerTime, decodeDerUtcTime } from './der-time.ts'

describe('times', () => {
  const utc = (text: string): Date => decodeDerUtcTime(parseDer(prim(23, ascii(text))), 't')
  const gen = (text: string): Date => decodeDerGeneralizedTime(parseDer(prim(24, ascii(text))), 't')

  it('decodes UTCTime with the RFC 5280 century rule', () => {
    expect(utc('220924005528Z').toISOString()).toBe('2022-09-24T00:55:28.000Z')
    expect(utc('491231235959Z').toISOString()).toBe('2049-12-31T23:59:59.000Z')
    expect(utc('500101000000Z').toISOString()).toBe('1950-01-01T00:00:00.000Z')
    expect(utc('000229000000Z').toISOString()).toBe('2000-02-29T00:00:00.000Z')
  })

  it('rejects UTCTime that is not in DER form or not a real date', () => {
    const bad = [
      '2209240055Z', // no seconds
      '220924005528', // no Z
      '220924005528+0000', // offset instead of Z
      '220924005528.5Z', // fraction
      '220924005528z',
      '22092400552Z',
      '221324005528Z', // month 13
      '220001000000Z', // month 0
      '220230000000Z', // 30 February
      '230229000000Z', // 29 February, not a leap year
      '220431000000Z',
      '220100000000Z', // day 0
      '220924245528Z', // hour 24
      '220924006028Z',
      '220924005560Z', // leap second
      '２20924005528Z',
    ]
    for (const text of bad) {
      const bytes = new TextEncoder().encode(text)
      expect(
        codeOf(() => decodeDerUtcTime(parseDer(prim(23, bytes)), 't')),
        text,
      ).toBe('ERR_DER_TIME_INVALID')
    }
  })

  it('decodes GeneralizedTime with an optional fraction', () => {
    expect(gen('20500101000000Z').toISOString()).toBe('2050-01-01T00:00:00.000Z')
    expect(gen('20240229235959.5Z').toISOString()).toBe('2024-02-29T23:59:59.500Z')
    expect(gen('20240229235959.05Z').toISOString()).toBe('2024-02-29T23:59:59.050Z')
    expect(gen('20240229235959.123Z').toISOString()).toBe('2024-02-29T23:59:59.123Z')
    expect(gen('00010101000000Z').toISOString()).toBe('0001-01-01T00:00:00.000Z')
    expect(gen('00500101000000Z').getUTCFullYear()).toBe(50)
    expect(gen('99991231235959Z').toISOString()).toBe('9999-12-31T23:59:59.000Z')
    expect(gen('20000229000000Z').getUTCDate()).toBe(29)
  })

  it('rejects GeneralizedTime that is not in DER form', () => {
    const bad = [
      '20500101000000', // no Z
      '205001010000Z', // no seconds
      '2050010100Z',
      '20500101000000+0100',
      '20500101000000.0Z', // zero fraction must be omitted
      '20500101000000.50Z', // trailing zero
      '20500101000000.Z',
      '20500101000000,5Z', // comma
      '20500101000000.1234Z', // beyond milliseconds
      '19000229000000Z', // 1900 is not a leap year
      '20501301000000Z',
      '20500101240000Z',
    ]
    for (const text of bad) {
      expect(
        codeOf(() => gen(text)),
        text,
      ).toBe('ERR_DER_TIME_INVALID')
    }
  })

  it('decodes either X.509 Time type', () => {
    expect(decodeDerTime(parseDer(prim(23, ascii('220924005528Z'))), 't').getUTCFullYear()).toBe(
      2022,
    )
    expect(decodeDerTime(parseDer(prim(24, ascii('20500101000000Z'))), 't').getUTCFullYear()).toBe(
      2050,
    )
    const err = thrown(() => decodeDerTime(parseDer(prim(4, [])), 'notAfter'))
    expect(err.code).toBe('ERR_DER_UNEXPECTED_TAG')
    expect(err.details).toMatchObject({ expected: 'UTCTime or GeneralizedTime' })
    expect(codeOf(() => decodeDerTime(undefined, 'notAfter'))).toBe('ERR_DER_MISSING')
    expect(codeOf(() => decodeDerTime(parseDer(hex('97 00')), 'notAfter'))).toBe(
      'ERR_DER_UNEXPECTED_TAG',
    )
  })

  it('round-trips any time in range', () => {
    const pad = (n: number, width: number): string => String(n).padStart(width, '0')
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1950-01-01T00:00:00Z'),
          max: new Date('2049-12-31T23:59:59.999Z'),
          noInvalidDate: true,
        }),
        (d) => {
          const body = `${pad(d.getUTCMonth() + 1, 2)}${pad(d.getUTCDate(), 2)}${pad(d.getUTCHours(), 2)}${pad(d.getUTCMinutes(), 2)}${pad(d.getUTCSeconds(), 2)}`
          const ms = d.getUTCMilliseconds()
          const fraction = ms === 0 ? '' : `.${pad(ms, 3).replace(/0+$/, '')}`
          const whole = new Date(d.getTime() - ms)
          expect(utc(`${pad(d.getUTCFullYear() % 100, 2)}${body}Z`)).toEqual(whole)
          expect(gen(`${pad(d.getUTCFullYear(), 4)}${body}${fraction}Z`)).toEqual(d)
        },
      ),
    )
  })
})

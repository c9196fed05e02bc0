import { describe, expect, it } from 'vitest'
import { benchNumber } from './bench-env.ts'

describe('benchNumber', () => {
  const rounds = { integer: true, min: 1 } as const
  it('takes the fallback when unset or empty, and a number in range', () => {
    expect(benchNumber('BENCH_X', 6, rounds, {})).toBe(6)
    expect(benchNumber('BENCH_X', 6, rounds, { BENCH_X: '' })).toBe(6)
    expect(benchNumber('BENCH_X', 6, rounds, { BENCH_X: '12' })).toBe(12)
    expect(benchNumber('BENCH_X', 10, { min: 0.5 }, { BENCH_X: '2.5' })).toBe(2.5)
  })

  it('refuses what is not a number in range, naming the variable, never NaN', () => {
    for (const text of ['abc', '0', '-1', '1.5', '1e3', '0x10', 'Infinity', '3 rounds']) {
      expect(() => benchNumber('BENCH_X', 6, rounds, { BENCH_X: text }), text).toThrow(
        /^BENCH_X=".*": expected a whole number of at least 1 \(unset: 6\)$/,
      )
    }
    expect(() => benchNumber('BENCH_Y', 10, { min: 0.5 }, { BENCH_Y: '0.1' })).toThrow(
      'BENCH_Y="0.1": expected a number of at least 0.5 (unset: 10)',
    )
  })
})

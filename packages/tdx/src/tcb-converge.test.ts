/**
 * convergeTcbStatus: the combination table of Intel's QVL (`convergeTcbStatusWithTdxModuleStatus`,
 * `convergeTcbStatusWithQeTcbStatus`), row by row.
 */
import { describe, expect, it } from 'vitest'
import type { TcbLevelStatus } from './tcb-info.ts'
import type { QeTcbStatus, TdxModuleStatus } from './tcb-identity.ts'
import { convergeTcbStatus, type TcbStatus } from './tcb-status.ts'

describe('convergeTcbStatus (Intel QVL convergeTcbStatusWith{TdxModule,QeTcb}Status)', () => {
  const PLATFORM: TcbLevelStatus[] = [
    'UpToDate',
    'SWHardeningNeeded',
    'ConfigurationNeeded',
    'ConfigurationAndSWHardeningNeeded',
    'OutOfDate',
    'OutOfDateConfigurationNeeded',
    'Revoked',
  ]
  // Rows: platform status; columns: the part's status UpToDate, OutOfDate, Revoked, TcbNotSupported.
  const TABLE: Record<TcbLevelStatus, [TcbStatus, TcbStatus, TcbStatus, TcbStatus]> = {
    UpToDate: ['UpToDate', 'OutOfDate', 'Revoked', 'TcbNotSupported'],
    SWHardeningNeeded: ['SWHardeningNeeded', 'OutOfDate', 'Revoked', 'TcbNotSupported'],
    ConfigurationNeeded: [
      'ConfigurationNeeded',
      'OutOfDateConfigurationNeeded',
      'Revoked',
      'TcbNotSupported',
    ],
    ConfigurationAndSWHardeningNeeded: [
      'ConfigurationAndSWHardeningNeeded',
      'OutOfDateConfigurationNeeded',
      'Revoked',
      'TcbNotSupported',
    ],
    OutOfDate: ['OutOfDate', 'OutOfDate', 'Revoked', 'TcbNotSupported'],
    OutOfDateConfigurationNeeded: [
      'OutOfDateConfigurationNeeded',
      'OutOfDateConfigurationNeeded',
      'Revoked',
      'TcbNotSupported',
    ],
    Revoked: ['Revoked', 'Revoked', 'Revoked', 'TcbNotSupported'],
  }
  const PARTS = ['UpToDate', 'OutOfDate', 'Revoked', 'TcbNotSupported'] as const

  it.each(PLATFORM)('platform %s with each QE status (SGX path)', (platform) => {
    expect(PARTS.map((qe: QeTcbStatus) => convergeTcbStatus({ platform, qe }))).toEqual(
      TABLE[platform],
    )
  })

  it.each(PLATFORM)('platform %s with each TDX module status (QE UpToDate)', (platform) => {
    expect(
      PARTS.map((m: TdxModuleStatus) =>
        convergeTcbStatus({ platform, tdxModule: m, qe: 'UpToDate' }),
      ),
    ).toEqual(TABLE[platform])
  })

  it('the platform alone is returned unchanged; an unsupported platform stays unsupported', () => {
    for (const platform of PLATFORM) expect(convergeTcbStatus({ platform })).toBe(platform)
    for (const part of PARTS) {
      expect(convergeTcbStatus({ platform: 'TcbNotSupported', qe: part, tdxModule: part })).toBe(
        'TcbNotSupported',
      )
    }
  })

  it('module and QE both OutOfDate lower once; Revoked after the module step stays Revoked (TDX path)', () => {
    expect(
      convergeTcbStatus({ platform: 'SWHardeningNeeded', tdxModule: 'OutOfDate', qe: 'OutOfDate' }),
    ).toBe('OutOfDate')
    expect(
      convergeTcbStatus({ platform: 'ConfigurationNeeded', tdxModule: 'OutOfDate', qe: 'Revoked' }),
    ).toBe('Revoked')
    expect(
      convergeTcbStatus({ platform: 'UpToDate', tdxModule: 'Revoked', qe: 'TcbNotSupported' }),
    ).toBe('Revoked')
    expect(
      convergeTcbStatus({ platform: 'Revoked', tdxModule: 'UpToDate', qe: 'TcbNotSupported' }),
    ).toBe('Revoked')
    // On the SGX path Intel checks the QE's NotSupported after Revoked.
    expect(convergeTcbStatus({ platform: 'Revoked', qe: 'TcbNotSupported' })).toBe(
      'TcbNotSupported',
    )
  })

  it('is never better than the platform status (order: best first)', () => {
    const rank = (s: TcbStatus): number => (s === 'TcbNotSupported' ? 99 : PLATFORM.indexOf(s))
    for (const platform of PLATFORM) {
      for (const qe of PARTS) {
        for (const tdxModule of [undefined, ...PARTS]) {
          const s = convergeTcbStatus({ platform, qe, tdxModule })
          expect(rank(s)).toBeGreaterThanOrEqual(rank(platform))
        }
      }
    }
  })
})

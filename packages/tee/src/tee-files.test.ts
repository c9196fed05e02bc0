/**
 * The coded errors for TEE interface files (a non-root agent is told to run as root) and the
 * REPORT_DATA padding.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { rejectedCode, thrown } from '@initguard/testkit'
import { padReportData, readOptionalTeeFile, readTeeText, teeFileError } from './tee-files.ts'

describe('TEE interface file errors', () => {
  it('tells a caller without permission to run as root, and names the kernel errno otherwise', () => {
    for (const errno of ['EACCES', 'EPERM']) {
      const error = teeFileError(
        Object.assign(new Error(errno), { code: errno }),
        'create',
        '/x',
        'entry',
      )
      expect([error.code, error.category, error.hint]).toEqual([
        'ERR_TEE_PERMISSION',
        'io',
        expect.stringContaining('root'),
      ])
    }
    const busy = teeFileError(
      Object.assign(new Error('EIO'), { code: 'EIO' }),
      'read',
      '/x/outblob',
      'outblob',
    )
    expect([busy.code, busy.category, busy.details['errno']]).toEqual([
      'ERR_TEE_FILE_IO',
      'unavailable',
      'EIO',
    ])
  })

  it('reads text without its newline, absent optional files as undefined, and refuses anything else', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'initguard-tee-files-'))
    try {
      await writeFile(join(dir, 'provider'), 'sev_guest\n')
      expect(await readTeeText(join(dir, 'provider'), 'provider')).toBe('sev_guest')
      expect(await readOptionalTeeFile(join(dir, 'absent'), 'absent')).toBeUndefined()
      // A directory where a file should be: it exists but cannot be read, so it is not "absent".
      expect(await rejectedCode(readOptionalTeeFile(dir, 'dir'))).toBe('ERR_TEE_FILE_IO')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('padReportData', () => {
  it('zero-pads up to 64 bytes and refuses more', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (data) => {
        const padded = padReportData(data)
        expect(padded).toHaveLength(64)
        expect(padded.subarray(0, data.length)).toEqual(data)
        expect(padded.subarray(data.length).every((b) => b === 0)).toBe(true)
      }),
    )
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 65, maxLength: 200 }), (data) => {
        expect(thrown(() => padReportData(data)).code).toBe('ERR_TEE_REPORT_DATA_TOO_LONG')
      }),
    )
  })
})

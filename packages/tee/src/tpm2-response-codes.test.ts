/**
 * Response codes decoded by their bit fields (TPM 2.0 Library, Part 2, §6.6): names, the handle,
 * session or parameter at fault, warnings, vendor and TPM 1.2 codes, codes a resource manager
 * made, and the typed error each kind becomes. The codes a real TPM answers with
 * (`TPM_RC_INITIALIZE`, `TPM_RC_LOCALITY`, `TPM_RC_VALUE`, `TPM_RC_BAD_TAG`) are also drawn from
 * swtpm in `tpm2-client.test.ts`.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  TPM_ERROR_CODES,
  TpmCommandError,
  decodeResponseCode,
  tpmCommandError,
} from './tpm2-response-codes.ts'

describe('decodeResponseCode', () => {
  it.each([
    [0x000, 'TPM_RC_SUCCESS', 'success'],
    [0x100, 'TPM_RC_INITIALIZE', 'error'],
    [0x101, 'TPM_RC_FAILURE', 'error'],
    [0x143, 'TPM_RC_COMMAND_CODE', 'error'],
    [0x125, 'TPM_RC_AUTH_MISSING', 'error'],
    [0x907, 'TPM_RC_LOCALITY', 'warning'],
    [0x922, 'TPM_RC_RETRY', 'warning'],
    [0x910, 'TPM_RC_REFERENCE_H0', 'warning'],
    [0x91e, 'TPM_RC_REFERENCE_S6', 'warning'],
    [0x084, 'TPM_RC_VALUE', 'format-one'],
    [0x1c4, 'TPM_RC_VALUE (parameter 1)', 'format-one'],
    [0x2c3, 'TPM_RC_HASH (parameter 2)', 'format-one'],
    [0x18b, 'TPM_RC_HANDLE (handle 1)', 'format-one'],
    [0x98e, 'TPM_RC_AUTH_FAIL (session 1)', 'format-one'],
    [0x9a2, 'TPM_RC_BAD_AUTH (session 1)', 'format-one'],
    [0x01e, 'TPM_RC_BAD_TAG', 'tpm1.2'],
    [0x005, 'TPM 1.2 code 0x5', 'tpm1.2'],
    [0x503, 'vendor code 0x3', 'vendor'],
    [0x0b0101, 'TPM_RC_FAILURE from the resource manager', 'layer'],
    [0x060922, 'TPM_RC_RETRY from software layer 6', 'layer'],
    [0x17f, 'error 0x7f', 'error'],
  ])('%i (decimal) is %s', (value, name, kind) => {
    const rc = decodeResponseCode(value)
    expect(rc).toMatchObject({ value, name, kind })
    expect(rc.hex).toBe(`0x${value.toString(16).padStart(8, '0')}`)
  })

  it('decodes every 32-bit value without throwing', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (value) => {
        const rc = decodeResponseCode(value)
        expect(rc.hex).toMatch(/^0x[0-9a-f]{8}$/)
        expect(rc.name.length).toBeGreaterThan(0)
      }),
      { numRuns: 5000 },
    )
  })
})

describe('tpmCommandError', () => {
  it.each([
    [0x100, TPM_ERROR_CODES.notStarted],
    [0x101, TPM_ERROR_CODES.failureMode],
    [0x907, TPM_ERROR_CODES.locality],
    [0x98e, TPM_ERROR_CODES.auth],
    [0x9a2, TPM_ERROR_CODES.auth],
    [0x125, TPM_ERROR_CODES.auth],
    [0x921, TPM_ERROR_CODES.auth],
    [0x922, TPM_ERROR_CODES.busy],
    [0x908, TPM_ERROR_CODES.busy],
    [0x90a, TPM_ERROR_CODES.busy],
    [0x1c4, TPM_ERROR_CODES.refused],
    [0x01e, TPM_ERROR_CODES.refused],
    [0x0b0922, TPM_ERROR_CODES.refused],
  ])('%i (decimal) is %s', (value, code) => {
    const error = tpmCommandError(value, 'TPM2_PCR_Extend', '/dev/tpmrm0')
    expect(error).toBeInstanceOf(TpmCommandError)
    expect(error).toMatchObject({
      code,
      category: 'unavailable',
      responseCode: value,
      command: 'TPM2_PCR_Extend',
    })
    expect(error.details).toMatchObject({ command: 'TPM2_PCR_Extend', tpm: '/dev/tpmrm0' })
    expect(error.hint).toBeDefined()
  })

  it('names the hash or value refusal as a bank or index the TPM does not take', () => {
    expect(tpmCommandError(0x2c3, 'TPM2_PCR_Extend', 'x').hint).toMatch(/SHA-256 bank/)
  })
})

/** Malformed definitions are refused with ERR_KBS_WORKLOAD_INVALID, never accepted or crashing. */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { isWorkloadName, parseWorkloadDefinition } from './workload-definition.ts'
import { webDefinition } from './workload-test-support.ts'

const junk = fc.oneof(
  fc.constant(undefined),
  fc.constant(null),
  fc.boolean(),
  fc.integer(),
  fc.double(),
  fc.string(),
  fc.constant([]),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
)

/** Paths into the valid definition whose value, replaced by junk, must be refused. */
const PATHS = [
  ['name'],
  ['tees'],
  ['initdata'],
  ['resources'],
  ['snp'],
  ['snp', 'measurements'],
  ['snp', 'allowDebug'],
  ['snp', 'minimumTcb'],
  ['snp', 'minimumLaunchTcb'],
  ['snp', 'refuseProvisionalFirmware'],
  ['snp', 'minimumFirmware'],
  ['snp', 'guestPolicy'],
  ['snp', 'platformInfo'],
  ['tdx'],
  ['tdx', 'mrtd'],
  ['tdx', 'rtmr1'],
  ['tdx', 'mrServiceTd'],
  ['tdx', 'acceptedTcbStatuses'],
  ['cel'],
] as const

function replaced(path: readonly string[], value: unknown): unknown {
  const definition = structuredClone(webDefinition())
  let at: Record<string, unknown> = definition
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>
  const last = path.at(-1) ?? ''
  if (value === undefined) Reflect.deleteProperty(at, last)
  else at[last] = value
  return definition
}

function outcome(definition: unknown): string {
  try {
    parseWorkloadDefinition(definition)
    return 'accepted'
  } catch (error) {
    if (isInitguardError(error)) return error.code
    throw error
  }
}

describe('parseWorkloadDefinition under malformed input', () => {
  it('refuses junk in any field with ERR_KBS_WORKLOAD_INVALID (or accepts a valid value)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...PATHS), junk, (path, value) => {
        const result = outcome(replaced(path, value))
        // The only junk that may be accepted: leaving out an optional member, a boolean for a
        // boolean, or a string that is a valid name.
        const optional = [
          'allowDebug',
          'minimumTcb',
          'minimumLaunchTcb',
          'refuseProvisionalFirmware',
          'minimumFirmware',
          'guestPolicy',
          'platformInfo',
          'rtmr1',
          'mrServiceTd',
          'acceptedTcbStatuses',
          'cel',
        ]
        const last = path.at(-1) ?? ''
        const mayAccept =
          (value === undefined && optional.includes(last)) ||
          ((last === 'allowDebug' || last === 'refuseProvisionalFirmware') &&
            typeof value === 'boolean') ||
          // Junk that happens to be a valid name (a short lower-case string) is a name.
          (last === 'name' && typeof value === 'string' && isWorkloadName(value))
        expect(result === 'accepted' ? mayAccept : result === 'ERR_KBS_WORKLOAD_INVALID').toBe(true)
      }),
      { numRuns: 300 },
    )
  })

  it('refuses arbitrary JSON values', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        expect(outcome(value)).toBe('ERR_KBS_WORKLOAD_INVALID')
      }),
      { numRuns: 300 },
    )
  })
})

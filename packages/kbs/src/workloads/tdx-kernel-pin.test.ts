/**
 * A TDX workload pins the kernel: MRTD covers only the TD firmware, the kernel is measured into
 * RTMR1 and its command line and initrd into RTMR2, and the host sets MRCONFIGID. So a `tdx` block
 * lists both `rtmr1` and `rtmr2`, or says `"anyKernel": true`, never both; a stored definition
 * without either (written before the rule) is not compiled, so its workload releases nothing.
 */
import { describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { SIMULATOR_TDX_MRTD_HEX } from '@initguard/tee-simulator'
import { WorkloadSnapshot } from '../appraisal/workload-snapshot.ts'
import { WorkloadCompiler } from './compiled-workload.ts'
import { parseWorkloadDefinition } from './workload-definition.ts'
import {
  MemoryWorkloadStore,
  SIMULATOR_TDX_VALUES,
  webDefinition,
} from './workload-test-support.ts'

const A = 'ab'.repeat(48)
const B = 'cd'.repeat(48)

/** The web definition with this `tdx` block. */
const withTdx = (tdx: Record<string, unknown>): Record<string, unknown> => webDefinition({ tdx })

/** The refusal of `definition`: its code, message, path and hint. */
function refusal(definition: unknown): {
  code: unknown
  message: string
  path: unknown
  hint: unknown
} {
  const error = thrown(() => parseWorkloadDefinition(definition)) as Error & {
    code?: unknown
    hint?: unknown
    details?: { path?: unknown }
  }
  return { code: error.code, message: error.message, path: error.details?.path, hint: error.hint }
}

describe('a TDX block pins the kernel (rtmr1 and rtmr2) or says anyKernel', () => {
  it('refuses a block with neither RTMR, naming the block, the hole and both fixes', () => {
    const { code, message, path, hint } = refusal(withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX] }))
    expect([code, path]).toEqual(['ERR_KBS_WORKLOAD_INVALID', '$.tdx'])
    expect(message).toContain('$.tdx pins no kernel (neither rtmr1 nor rtmr2)')
    expect(message).toContain('MRTD covers only the TD firmware')
    expect(hint).toMatch(/rtmr1 \(kernel\) and rtmr2 \(command line and initrd\)/)
    expect(hint).toMatch(/--tdx-rtmr 1=HEX --tdx-rtmr 2=HEX/)
    expect(hint).toMatch(/"anyKernel": true .*boot a kernel of its own.*gets the secrets/)
    // Other RTMRs do not pin the kernel.
    const others = withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], rtmr0: [A], rtmr3: [B] })
    expect(refusal(others).path).toBe('$.tdx')
  })

  it('refuses a block with one of the two, naming the one missing', () => {
    const onlyKernel = refusal(withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], rtmr1: [A] }))
    expect([onlyKernel.code, onlyKernel.path]).toEqual(['ERR_KBS_WORKLOAD_INVALID', '$.tdx.rtmr2'])
    expect(onlyKernel.message).toContain(
      '$.tdx.rtmr2 is missing: rtmr1 alone leaves the kernel command line and initrd to the host',
    )
    const onlyCommandLine = refusal(withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], rtmr2: [A] }))
    expect(onlyCommandLine.path).toBe('$.tdx.rtmr1')
    expect(onlyCommandLine.message).toContain(
      '$.tdx.rtmr1 is missing: rtmr2 alone leaves the kernel to the host',
    )
  })

  it.each([
    [{ rtmr1: [A] }, '$.tdx.anyKernel contradicts $.tdx.rtmr1'],
    [{ rtmr2: [A] }, '$.tdx.anyKernel contradicts $.tdx.rtmr2'],
    [{ rtmr1: [A], rtmr2: [B] }, '$.tdx.anyKernel contradicts $.tdx.rtmr1 and $.tdx.rtmr2'],
  ])('refuses anyKernel with a kernel pin %j', (pins, message) => {
    const {
      code,
      message: got,
      hint,
    } = refusal(withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], anyKernel: true, ...pins }))
    expect(code).toBe('ERR_KBS_WORKLOAD_INVALID')
    expect(got).toContain(message)
    expect(hint).toMatch(/remove anyKernel and list both rtmr1 and rtmr2/)
  })

  it.each([
    [false, 'it is false'],
    ['true', 'it is a string'],
    [1, 'it is a number'],
    [null, 'it is null'],
  ])('refuses anyKernel %j: only true', (anyKernel, kind) => {
    for (const pins of [{}, { rtmr1: [A], rtmr2: [B] }]) {
      const { code, message, path } = refusal(
        withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], anyKernel, ...pins }),
      )
      expect([code, path]).toEqual(['ERR_KBS_WORKLOAD_INVALID', '$.tdx.anyKernel'])
      expect(message).toContain(`$.tdx.anyKernel must be true (${kind})`)
    }
  })

  it('names a malformed RTMR as such before judging the block', () => {
    const { message } = refusal(withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], rtmr1: ['00'] }))
    expect(message).toContain('$.tdx.rtmr1[0] has 2 hex digits')
  })

  it('accepts both RTMRs pinned, without anyKernel, and the parsed form parses to itself', () => {
    const parsed = parseWorkloadDefinition(
      withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], rtmr1: [A.toUpperCase()], rtmr2: [B, A] }),
    )
    expect(parsed.tdx).toMatchObject({ rtmr1: [A], rtmr2: [B, A] })
    expect(parsed.tdx).not.toHaveProperty('anyKernel')
    expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
  })

  it('accepts anyKernel: true (with rtmr0 or rtmr3 too), written out, and parsing it again keeps it', () => {
    for (const more of [{}, { rtmr0: [A], rtmr3: [B] }]) {
      const parsed = parseWorkloadDefinition(
        withTdx({ mrtd: [SIMULATOR_TDX_MRTD_HEX], anyKernel: true, ...more }),
      )
      expect(parsed.tdx).toMatchObject({ anyKernel: true, ...more })
      expect(parsed.tdx).not.toHaveProperty('rtmr1')
      expect(parseWorkloadDefinition(JSON.parse(JSON.stringify(parsed)))).toEqual(parsed)
    }
  })
})

describe('a TDX definition stored before the rule', () => {
  it('is not compiled: the workload is out of use, and the reason says how to put it again', async () => {
    // The store takes what the admin route validated; before this rule, that took this one.
    const store = new MemoryWorkloadStore()
    const old = webDefinition({ tdx: { mrtd: [SIMULATOR_TDX_MRTD_HEX] } })
    await store.put('web', old, new Date('2026-12-01T00:00:00Z'))
    const [stored] = await store.list()
    if (stored === undefined || 'unusable' in stored) throw new Error('not stored')
    expect(thrown(() => new WorkloadCompiler().compile(stored))).toMatchObject({
      code: 'ERR_KBS_WORKLOAD_INVALID',
    })
    const read = await new WorkloadSnapshot(store).current()
    expect(read.compiled).toEqual([])
    expect(read.byName.get('web')?.compiled).toBeUndefined()
    expect(read.invalid).toHaveLength(1)
    expect(read.invalid[0]).toContain(
      "workload 'web': its stored definition is invalid (workload definition: $.tdx pins no kernel",
    )
    // The fix goes with it into the refusal each guest's audit entry carries.
    expect(read.invalid[0]).toMatch(/--tdx-rtmr 1=HEX --tdx-rtmr 2=HEX.*"anyKernel": true/)
    // Put again with the pins, it is used.
    await store.put('web', webDefinition({ tdx: SIMULATOR_TDX_VALUES }), new Date())
    const again = await new WorkloadSnapshot(store).current()
    expect([again.compiled.map((w) => w.name), again.invalid]).toEqual([['web'], []])
  })
})

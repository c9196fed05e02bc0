import type * as initdata from '@initguard/initdata'
import { parseInitdata } from '@initguard/initdata'
import { describe, expect, it, vi } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { compileWorkload } from './compiled-workload.ts'
import { initdataText, webDefinition } from './workload-test-support.ts'

// Counted at the init-data parser itself, so a second parse through any path counts.
vi.mock('@initguard/initdata', async (original) => {
  const actual = await original<typeof initdata>()
  return { ...actual, parseInitdata: vi.fn(actual.parseInitdata) }
})

describe('compileWorkload and init-data documents', () => {
  it('parses each accepted init-data document once per compilation', () => {
    const parse = vi.mocked(parseInitdata)
    parse.mockClear()
    const compiled = compileWorkload({
      name: 'web',
      version: 1,
      definition: webDefinition({
        initdata: [initdataText(), initdataText('https://kbs.example:9090', 'sha256')],
      }),
      updatedAt: '',
    })
    expect(parse).toHaveBeenCalledTimes(2)
    // Every document is still bound for every TEE, from that one parse.
    expect(compiled.initdata.map((d) => [d.index, d.algorithm, Object.keys(d.fitted)])).toEqual([
      [0, 'sha384', ['snp', 'tdx']],
      [1, 'sha256', ['snp', 'tdx']],
    ])
  })

  it('still refuses an invalid document and a repeated one', () => {
    const compile = (initdata: unknown[]): string | undefined =>
      codeOf(() =>
        compileWorkload({
          name: 'web',
          version: 1,
          definition: webDefinition({ initdata }),
          updatedAt: '',
        }),
      )
    expect(compile(['version = "0.1.0"\n'])).toBe('ERR_KBS_WORKLOAD_INVALID')
    expect(compile([initdataText(), initdataText()])).toBe('ERR_KBS_WORKLOAD_INVALID')
  })
})

/**
 * Smoke test of `npm run fuzz`: every target runs its seeds and a fixed number of mutated inputs in
 * this process, and any failure (an untyped or internal error, a hang) fails the test, so the
 * targets keep up with the parsers they drive.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { InternalError, MalformedInputError } from '@initguard/core'
import { initSimulator } from '@initguard/tee-simulator'
import { failureKindOf, fuzzTarget } from './engine.ts'
import { mutateInput } from './mutate-structured.ts'
import { FuzzRandom } from './random.ts'
import { FUZZ_TARGETS } from './targets/index.ts'

let root = ''
let simulatorDir = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-fuzz-test-'))
  simulatorDir = (await initSimulator(join(root, 'sim'))).simulator.dir
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

describe('fuzz targets', () => {
  it.each(FUZZ_TARGETS.map((t) => [t.name, t] as const))(
    '%s runs its seeds and 60 mutations with no failure',
    async (name, target) => {
      const prepared = await target.prepare({ scratch: join(root, name), simulatorDir })
      try {
        const stats = await fuzzTarget(name, prepared, {
          seed: 1,
          executions: prepared.seeds.length + 60,
          timeoutMs: 5000,
        })
        expect(stats.failures.map((f) => `${f.signature}: ${f.message}`)).toEqual([])
        expect(stats.executions).toBe(prepared.seeds.length + 60)
        // Every entry point has a seed, so none is left unfuzzed.
        expect(new Set(prepared.seeds.map((s) => s.entry))).toEqual(
          new Set(Object.keys(prepared.entries)),
        )
      } finally {
        await prepared.close?.()
      }
    },
  )
})

describe('the engine', () => {
  it('counts typed rejections and keeps untyped, internal and hanging failures with their input', async () => {
    const seeds = ['typed', 'untyped', 'internal', 'hang'].map((entry) => ({
      entry,
      format: 'binary' as const,
      bytes: Uint8Array.of(1, 2, 3),
      origin: 'test',
    }))
    const stats = await fuzzTarget(
      'test',
      {
        seeds,
        entries: {
          typed: () => {
            throw new MalformedInputError('ERR_TEST', 'refused')
          },
          untyped: (input) => (input[10] as unknown as number).toFixed(),
          internal: () => {
            throw new InternalError('ERR_TEST_BUG', 'a bug')
          },
          hang: () => new Promise(() => undefined),
        },
      },
      { seed: 2, executions: 4, timeoutMs: 50 },
    )
    expect(stats.rejections).toBe(1)
    expect(stats.failures.map((f) => [f.entry, f.kind])).toEqual([
      ['untyped', 'untyped-error'],
      ['internal', 'internal-error'],
      ['hang', 'hang'],
    ])
    expect(stats.failures[0]?.input).toEqual(Uint8Array.of(1, 2, 3))
    expect(failureKindOf(new TypeError('x'))).toBe('untyped-error')
  })

  it('mutates deterministically for a seed, and JSON structurally', () => {
    const input = new TextEncoder().encode('{"a":[1,2,{"b":"c"}],"d":"AAAAAAAAAAAAAAAAAAAAAA=="}')
    const run = (seed: number): string[] => {
      const random = new FuzzRandom(seed)
      return Array.from({ length: 50 }, () =>
        new TextDecoder().decode(mutateInput(input, 'json', random, [input])),
      )
    }
    expect(run(3)).toEqual(run(3))
    expect(run(3)).not.toEqual(run(4))
    expect(run(3).some((text) => text !== new TextDecoder().decode(input))).toBe(true)
  })
})

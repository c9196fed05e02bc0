/**
 * `npm run fuzz`'s refusals: malformed numbers and unknown names are usage errors (exit 2), never
 * read as "no bound"; `--replay` refuses a target or entry point that does not exist and says
 * when the input still fails; the initdata target lets an untyped error from the binding through.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { UsageError } from '@initguard/core'
import { ExpectationError } from '@initguard/core'
import { checkBinding, explainBinding, renderInitdata } from '@initguard/initdata'
import { fuzzTarget } from './engine.ts'
import { exitCodeOf, parseFuzzOptions } from './options.ts'
import { replayCrash, replayVerdict } from './replay.ts'
import { appraise } from './targets/initdata.ts'

const NAMES = ['alpha', 'beta']

function refusal(run: () => unknown): { code: string; exit: number; text: string } {
  try {
    run()
  } catch (error) {
    const e = error as UsageError
    return { code: e.code, exit: exitCodeOf(error), text: `${e.message} ${e.hint ?? ''}` }
  }
  throw new Error('not refused')
}

describe('parseFuzzOptions', () => {
  it('refuses a duration, limit or seed that is not a plain positive number', () => {
    for (const bad of ['abc', 'NaN', '0', 'Infinity', '1e3', '', ' 5', '0x10', '-1'])
      expect(refusal(() => parseFuzzOptions([`--seconds=${bad}`], {}, NAMES))).toMatchObject({
        code: 'ERR_FUZZ_OPTION',
        exit: 2,
      })
    for (const bad of ['', 'x', '0', 'NaN'])
      expect(refusal(() => parseFuzzOptions([], { FUZZ_SECONDS: bad }, NAMES)).text).toContain(
        'FUZZ_SECONDS must be a positive number',
      )
    expect(refusal(() => parseFuzzOptions(['--timeout-ms', 'soon'], {}, NAMES)).code).toBe(
      'ERR_FUZZ_OPTION',
    )
    expect(refusal(() => parseFuzzOptions(['--seed', '1.5'], {}, NAMES)).code).toBe(
      'ERR_FUZZ_OPTION',
    )
    expect(refusal(() => parseFuzzOptions(['--seconds'], {}, NAMES)).exit).toBe(2)
  })

  it('refuses a one-value option given twice, and options --replay does not use', () => {
    for (const args of [
      ['--seconds', '5', '--seconds', '600'],
      ['--seed=1', '--seed=2'],
      ['--timeout-ms', '10', '--timeout-ms', '20'],
      ['--replay', 'a.bin', '--replay', 'b.bin'],
    ])
      expect(refusal(() => parseFuzzOptions(args, {}, NAMES))).toMatchObject({
        code: 'ERR_FUZZ_OPTION',
        exit: 2,
        text: expect.stringContaining('is given more than once') as unknown,
      })
    for (const [extra, named] of [
      [['--seed', '3'], '--seed'],
      [['--target', 'alpha'], '--target'],
    ] as const)
      expect(
        refusal(() => parseFuzzOptions(['--replay', 'x.bin', ...extra], {}, NAMES)).text,
      ).toContain(`${named} does not apply to --replay`)
    expect(parseFuzzOptions(['--replay', 'x.bin', '--timeout-ms', '50'], {}, NAMES)).toMatchObject({
      replay: 'x.bin',
      timeoutMs: 50,
      seconds: 60,
    })
    // With --replay the seconds bound the target's setup, so neither spelling is ignored.
    expect(parseFuzzOptions(['--replay', 'x.bin', '--seconds', '5'], {}, NAMES).seconds).toBe(5)
    expect(parseFuzzOptions(['--replay', 'x.bin'], { FUZZ_SECONDS: '7' }, NAMES).seconds).toBe(7)
    expect(
      refusal(() => parseFuzzOptions(['--replay', 'x.bin'], { FUZZ_SECONDS: 'x' }, NAMES)).exit,
    ).toBe(2)
    expect(parseFuzzOptions(['--target', 'alpha', '--target', 'beta'], {}, NAMES).targets).toEqual(
      NAMES,
    )
  })

  it('refuses an unknown target, naming those there are', () => {
    expect(refusal(() => parseFuzzOptions(['--target', 'gamma'], {}, NAMES))).toMatchObject({
      code: 'ERR_FUZZ_TARGET',
      exit: 2,
      text: expect.stringContaining('targets: alpha, beta') as unknown,
    })
  })

  it('reads good values, the environment, and defaults', () => {
    expect(parseFuzzOptions(['--seconds', '2.5', '--seed', '0'], {}, NAMES)).toEqual({
      seconds: 2.5,
      targets: NAMES,
      seed: 0,
      timeoutMs: 2000,
      replay: undefined,
    })
    expect(parseFuzzOptions(['--target', 'beta'], { FUZZ_SECONDS: '7' }, NAMES)).toMatchObject({
      seconds: 7,
      targets: ['beta'],
    })
    expect(parseFuzzOptions([], {}, NAMES).seconds).toBe(60)
  })

  it('has the engine refuse a limit that is not a number rather than run unbounded', async () => {
    const target = { seeds: [], entries: {} }
    for (const limits of [{ deadline: Number.NaN }, { executions: Number.NaN }, { timeoutMs: 0 }])
      await expect(
        fuzzTarget('t', target, { seed: 1, timeoutMs: 10, executions: 1, ...limits }),
      ).rejects.toMatchObject({ code: 'ERR_FUZZ_LIMIT' })
  })
})

describe('replayCrash', () => {
  let dir = ''
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'initguard-fuzz-replay-'))
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })
  const crash = async (name: string, meta: object): Promise<string> => {
    await writeFile(join(dir, `${name}.json`), JSON.stringify(meta))
    await writeFile(join(dir, `${name}.bin`), Uint8Array.of(1))
    return join(dir, `${name}.bin`)
  }
  const replay = (file: string, setupSeconds = 30): ReturnType<typeof replayCrash> =>
    replayCrash(file, {
      targets: ['alpha', 'slow-setup', 'setup-throw'],
      targetsModule: () => new URL('./supervisor-test-targets.ts', import.meta.url).href,
      context: { scratch: dir, simulatorDir: dir },
      timeoutMs: 200,
      setupSeconds,
    })

  it('refuses a target or entry point that does not exist, naming those that do', async () => {
    const noTarget = replay(await crash('a', { target: 'gamma', entry: 'untyped' }))
    await expect(noTarget).rejects.toMatchObject({
      code: 'ERR_FUZZ_TARGET',
      hint: 'targets: alpha, slow-setup, setup-throw',
    })
    const noEntry = replay(await crash('b', { target: 'alpha', entry: 'nope' }))
    await expect(noEntry).rejects.toMatchObject({
      code: 'ERR_FUZZ_ENTRY',
      hint: 'entry points of alpha: untyped, typed, quiet, slow, spin, never',
    })
    await noEntry.catch((error: unknown) => {
      expect(exitCodeOf(error)).toBe(2)
    })
    await expect(replay(join(dir, 'missing.bin'))).rejects.toMatchObject({ code: 'ERR_FILE_READ' })
  })

  it('exits 1 when the input still fails with an untyped error, 0 otherwise', async () => {
    const verdict = async (entry: string): Promise<number> =>
      replayVerdict(await replay(await crash(entry, { target: 'alpha', entry }))).exitCode
    expect(await verdict('untyped')).toBe(1)
    expect(await verdict('typed')).toBe(0)
    expect(await verdict('quiet')).toBe(0)
  })

  it('bounds the input by the per-input limit: slow and hangs (even a synchronous loop) still fail', async () => {
    const began = performance.now()
    for (const [entry, saved, line] of [
      ['slow', 'slow', 'alpha/slow: still fails: slow (saved as slow)'],
      ['spin', 'hang', 'alpha/spin: still fails: hang (saved as hang)'],
      ['never', 'hang', 'alpha/never: still fails: hang (saved as hang)'],
      ['quiet', 'slow', 'alpha/quiet: no throw (saved as slow)'],
    ] as const) {
      const replayed = await replay(await crash(entry, { target: 'alpha', entry, kind: saved }))
      expect(replayVerdict(replayed)).toEqual({ line, exitCode: entry === 'quiet' ? 0 : 1 })
    }
    expect(performance.now() - began).toBeLessThan(10_000)
    await expect(
      replay(await crash('odd', { target: 'alpha', entry: 'quiet', kind: 'fine' })),
    ).rejects.toMatchObject({ code: 'ERR_FUZZ_CRASH_FILE' })
  })
})

describe('replayCrash: the setup', () => {
  it('bounds the setup, and a setup that overruns or fails says nothing about the input', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'initguard-fuzz-replay-setup-'))
    try {
      const crash = async (target: string): Promise<string> => {
        await writeFile(join(dir, `${target}.json`), JSON.stringify({ target, entry: 'run' }))
        await writeFile(join(dir, `${target}.bin`), Uint8Array.of(7))
        return join(dir, `${target}.bin`)
      }
      const replay = async (target: string, setupSeconds: number): Promise<unknown> =>
        replayCrash(await crash(target), {
          targets: ['slow-setup', 'setup-throw'],
          targetsModule: () => new URL('./supervisor-test-targets.ts', import.meta.url).href,
          context: { scratch: dir, simulatorDir: dir },
          timeoutMs: 200,
          setupSeconds,
        }).then(
          (outcome) => outcome,
          (error: unknown) => error,
        )
      // The setup takes 1.2 s; the message says the limit stopped it, not the setup finishing.
      const overran = await replay('slow-setup', 0.3)
      expect(overran).toMatchObject({
        code: 'ERR_FUZZ_SETUP',
        message: expect.stringContaining('not done within 0.3 s') as unknown,
        hint: expect.stringContaining('raise --seconds') as unknown,
      })
      expect(exitCodeOf(overran)).toBe(1)
      expect(await replay('slow-setup', 5)).toMatchObject({ target: 'slow-setup', result: 'none' })
      expect(await replay('setup-throw', 5)).toMatchObject({
        code: 'ERR_FUZZ_SETUP',
        message: expect.stringContaining('setup went wrong') as unknown,
      })
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})

describe('the initdata target', () => {
  it('lets an untyped error from the binding check through, and explains a typed refusal', () => {
    const document = renderInitdata({ algorithm: 'sha384', data: { 'aa.toml': '' } })
    let explained = 0
    const explain: typeof explainBinding = (...args) => {
      explained++
      return explainBinding(...args)
    }
    appraise(document, { checkBinding, explainBinding: explain })
    expect(explained).toBeGreaterThan(0)
    const untyped: typeof checkBinding = () => {
      throw new TypeError('a bug in the check')
    }
    expect(() => {
      appraise(document, { checkBinding: untyped, explainBinding })
    }).toThrow(TypeError)
    const typed: typeof checkBinding = () => {
      throw new ExpectationError('ERR_TEST', 'no match')
    }
    expect(() => {
      appraise(document, { checkBinding: typed, explainBinding })
    }).not.toThrow()
  })
})

/**
 * Targets that misbehave the ways a worker can, for `supervisor.test.ts`: one throws from a timer
 * (outside any awaited entry point, so only the worker's `error` event sees it), one fails its
 * setup asynchronously, one spends most of its budget setting up, one kills its first worker after
 * repeated failures; and one with an entry point per outcome of a replay (`run-options.test.ts`).
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FuzzTarget } from './engine.ts'

const seeds = [{ entry: 'run', format: 'binary', bytes: Uint8Array.of(7), origin: 'test' }] as const
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export const TIMER_THROW_TARGET: FuzzTarget = {
  name: 'timer-throw',
  description: 'input 7 throws a TypeError from a timer while its entry point waits',
  prepare: () =>
    Promise.resolve({
      seeds,
      entries: {
        run: async (input) => {
          if (input.length === 1 && input[0] === 7)
            setTimeout(() => {
              throw new TypeError('thrown from a timer')
            }, 0)
          await sleep(50)
        },
      },
    }),
}

export const SETUP_THROW_TARGET: FuzzTarget = {
  name: 'setup-throw',
  description: 'setup fails from a timer',
  prepare: async () => {
    await sleep(10)
    setTimeout(() => {
      throw new RangeError('setup went wrong')
    }, 0)
    await sleep(10_000)
    return { seeds, entries: { run: () => undefined } }
  },
}

export const SLOW_SETUP_TARGET: FuzzTarget = {
  name: 'slow-setup',
  description: 'setup takes 1.2 s',
  prepare: async () => {
    await sleep(1200)
    return { seeds, entries: { run: () => sleep(1) } }
  },
}

/** Entry points that end each way a replay tells apart (`run-options.test.ts`). */
export const REPLAY_TARGET: FuzzTarget = {
  name: 'alpha',
  description: 'one entry point per replay outcome',
  prepare: () =>
    Promise.resolve({
      seeds,
      entries: {
        untyped: (input) => (input[10] as unknown as number).toFixed(),
        typed: () => {
          throw new MalformedInputError('ERR_TEST', 'refused')
        },
        quiet: () => undefined,
        slow: () => {
          const until = performance.now() + 400
          while (performance.now() < until);
        },
        spin: () => {
          for (;;);
        },
        never: () => new Promise(() => undefined),
      },
    }),
}

/**
 * Every input throws a TypeError; the first worker (no marker in its scratch directory yet) dies
 * of a timer's exception during its third input, so a second worker goes on to the deadline.
 */
export const DIE_ONCE_TARGET: FuzzTarget = {
  name: 'die-once',
  description: 'always an untyped error; the first worker dies on its third input',
  prepare: (context) => {
    const marker = join(context.scratch, 'die-once-marker')
    const first = !existsSync(marker)
    writeFileSync(marker, '')
    let calls = 0
    return Promise.resolve({
      seeds,
      entries: {
        run: async () => {
          calls++
          if (first && calls === 3)
            setTimeout(() => {
              throw new RangeError('the first worker dies')
            }, 0)
          await sleep(calls === 3 ? 50 : 1)
          throw new TypeError('always')
        },
      },
    })
  },
}

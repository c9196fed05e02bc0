/**
 * The supervisor with real worker threads: a worker that dies of an asynchronous exception is a
 * recorded failure with the input it was executing (and the results are still written), setup
 * that fails is one with its input unknown, and setup counts against the target's budget.
 */
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { saveResults } from './report.ts'
import { runTargetInWorker } from './supervisor.ts'
import { epochNow } from './worker-protocol.ts'

const targetsModule = new URL('./supervisor-test-targets.ts', import.meta.url).href
let root = ''
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'initguard-fuzz-supervisor-'))
})
afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

const run = (
  target: string,
  millis: number,
  scratch = root,
): ReturnType<typeof runTargetInWorker> =>
  runTargetInWorker({
    target,
    targetsModule,
    seed: 1,
    deadline: epochNow() + millis,
    timeoutMs: 500,
    scratch,
    simulatorDir: root,
  })

describe('runTargetInWorker', () => {
  it('records an exception thrown asynchronously in the worker, with its input, and results are written', async () => {
    const report = await run('timer-throw', 2500)
    expect(report.failures.map((f) => [f.entry, f.kind, f.input])).toEqual([
      ['run', 'worker-error', Uint8Array.of(7)],
    ])
    expect(report.failures[0]?.signature).toMatch(/^run: worker-error TypeError at /)
    expect(report.failures[0]?.message).toBe('thrown from a timer')

    const setup = await run('setup-throw', 2500)
    expect(setup.failures.map((f) => [f.entry, f.kind, f.input, f.message])).toEqual([
      ['(setup)', 'worker-error', undefined, 'setup went wrong'],
    ])
    expect(setup.restarts).toBe(0)

    const dir = join(root, 'out')
    const results = await saveResults(dir, 'out', { seconds: 5, seed: 1, timeoutMs: 500 }, [
      report,
      setup,
    ])
    expect(results.failures.map((f) => [f.crashFile, f.input])).toEqual([
      [
        `out/crashes/timer-throw-run-${report.failures[0]?.inputSha256?.slice(0, 12) ?? ''}.bin`,
        'saved',
      ],
      ['out/crashes/setup-throw-_setup_-unknown-input.json', 'unknown'],
    ])
    expect((await readdir(join(dir, 'crashes'))).length).toBe(3)
    const saved = await readFile(join(dir, results.failures[0]?.crashFile.slice(4) ?? ''))
    expect(new Uint8Array(saved)).toEqual(Uint8Array.of(7))
    const description = JSON.parse(
      await readFile(
        join(dir, results.failures[0]?.crashFile.slice(4).replace(/bin$/, 'json') ?? ''),
        'utf8',
      ),
    ) as { kind: string }
    expect(description.kind).toBe('worker-error')
    const written = JSON.parse(await readFile(join(dir, 'results.json'), 'utf8')) as {
      failures: unknown[]
    }
    expect(written.failures).toHaveLength(2)
  })

  it('counts setup against the budget', async () => {
    const began = performance.now()
    const report = await run('slow-setup', 2000)
    const took = performance.now() - began
    expect(report.setupSeconds).toBeGreaterThanOrEqual(1.2)
    expect(report.failures).toEqual([])
    expect(report.executions).toBeGreaterThan(0)
    // Fuzzing had what setup left of the 2 s (plus a worker's start and teardown).
    expect(report.seconds + report.setupSeconds).toBeLessThan(2.2)
    expect(took).toBeLessThan(3500)
  })

  it("sums a failure's counts over restarted workers", async () => {
    const scratch = await mkdtemp(join(root, 'die-once-'))
    const report = await run('die-once', 2000, scratch)
    expect(report.restarts).toBe(1)
    const counts = Object.fromEntries(report.failures.map((f) => [f.kind, f.count]))
    // The first worker saw 2 before it died (only its first sighting is known), the second all of
    // its executions; the executions are the first worker's 2 and the second's.
    expect(counts).toEqual({ 'worker-error': 1, 'untyped-error': report.executions - 1 })
    expect(report.executions).toBeGreaterThan(10)
  })

  it('reports a target whose setup ends after its deadline (within the grace) as not run', async () => {
    const report = await run('slow-setup', 800)
    expect(report.executions).toBe(0)
    expect(report.failures).toEqual([])
    expect(report.notRun).toMatch(/no input was executed before its deadline/)
  })
})

/**
 * What a fuzz run leaves behind: each distinct failure's input as `crashes/TARGET-ENTRY-SHA.bin`
 * with a `.json` beside it (target, entry point, kind of failure, signature, stack), and `results.json`. A failure
 * whose input is unknown (the worker died in setup or teardown) gets only the `.json`, named
 * `TARGET-ENTRY-unknown-input.json`, and says so.
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FuzzFailure } from './engine.ts'
import type { TargetReport } from './supervisor.ts'

/** One failure as `results.json` lists it: where its input was saved, or why there is none. */
export type SavedFailure = Omit<FuzzFailure, 'input'> & {
  readonly crashFile: string
  readonly input: 'saved' | 'unknown'
}

/** The run as `results.json` holds it. */
export interface FuzzResults {
  readonly date: string
  readonly seconds: number
  readonly seed: number
  readonly timeoutMs: number
  readonly targets: readonly (Omit<TargetReport, 'failures'> & { readonly failures: number })[]
  readonly failures: readonly SavedFailure[]
}

/** Write the crash files under `dir/crashes/` and `dir/results.json`; `shown` names `dir`. */
export async function saveResults(
  dir: string,
  shown: string,
  run: { readonly seconds: number; readonly seed: number; readonly timeoutMs: number },
  reports: readonly TargetReport[],
): Promise<FuzzResults> {
  await mkdir(join(dir, 'crashes'), { recursive: true })
  const failures: SavedFailure[] = []
  for (const { input, ...failure } of reports.flatMap((r) => r.failures)) {
    const entry = failure.entry.replace(/[^\w.-]+/g, '_')
    const base = `${failure.target}-${entry}-${failure.inputSha256?.slice(0, 12) ?? 'unknown-input'}`
    const description = {
      target: failure.target,
      entry: failure.entry,
      kind: failure.kind,
      signature: failure.signature,
      input:
        input === undefined
          ? 'unknown: the worker was not executing an input (setup or teardown)'
          : `${base}.bin`,
      stack: failure.stack,
    }
    if (input !== undefined) await writeFile(join(dir, 'crashes', `${base}.bin`), input)
    await writeFile(
      join(dir, 'crashes', `${base}.json`),
      JSON.stringify(description, null, 2) + '\n',
    )
    const crashFile = `${shown}/crashes/${base}.${input === undefined ? 'json' : 'bin'}`
    failures.push({ ...failure, crashFile, input: input === undefined ? 'unknown' : 'saved' })
  }
  const results: FuzzResults = {
    date: new Date().toISOString(),
    ...run,
    targets: reports.map(({ failures: f, ...rest }) => ({ ...rest, failures: f.length })),
    failures,
  }
  await writeFile(join(dir, 'results.json'), JSON.stringify(results, null, 2) + '\n')
  return results
}

/**
 * `npm run fuzz -- --replay FILE`: run one saved input (`fuzz/crashes/TARGET-ENTRY-SHA.bin`, with
 * the `.json` beside it naming the target and entry point) again in this thread, and say whether
 * it still fails. A target or entry point that does not exist is refused, naming those that do.
 *
 * @module
 */
import { asObject, parseJson, stringField, UsageError, type JsonDocument } from '@initguard/core'
import { readInput } from '@initguard/files'
import { failureKindOf, type FailureKind, type FuzzContext, type FuzzTarget } from './engine.ts'

/** What the saved input does now. */
export interface ReplayOutcome {
  readonly target: string
  readonly entry: string
  /** `typed`: a typed rejection (no failure); `none`: no throw; else the failure it still is. */
  readonly result: FailureKind | 'typed' | 'none'
  readonly error: unknown
}

const CRASH_META: JsonDocument = {
  name: 'crash description',
  code: 'ERR_FUZZ_CRASH_FILE',
  hint: 'replay the .bin file that `npm run fuzz` wrote, with its .json beside it',
}

/** Run the input in `file` through the target and entry point its `.json` names. */
export async function replayCrash(
  file: string,
  targets: readonly FuzzTarget[],
  context: FuzzContext,
): Promise<ReplayOutcome> {
  const metaPath = file.replace(/\.bin$/, '.json')
  if (metaPath === file)
    throw new UsageError('ERR_FUZZ_REPLAY', `--replay takes a .bin crash file, not ${file}`, {
      hint: 'give fuzz/crashes/TARGET-ENTRY-SHA.bin',
    })
  const metaText = new TextDecoder().decode(
    await readInput(metaPath, { what: 'crash description' }),
  )
  const meta = asObject(CRASH_META, parseJson(CRASH_META, metaText, metaPath), metaPath)
  const targetName = stringField(CRASH_META, meta, 'target', metaPath)
  const entry = stringField(CRASH_META, meta, 'entry', metaPath)
  const target = targets.find((t) => t.name === targetName)
  if (target === undefined)
    throw new UsageError('ERR_FUZZ_TARGET', `${metaPath} names no fuzz target ${targetName}`, {
      hint: `targets: ${targets.map((t) => t.name).join(', ')}`,
    })
  const input = await readInput(file, { what: 'crash input' })
  const prepared = await target.prepare(context)
  try {
    const run = prepared.entries[entry]
    if (run === undefined)
      throw new UsageError(
        'ERR_FUZZ_ENTRY',
        `${metaPath} names no entry point ${entry} of target ${targetName}`,
        { hint: `entry points of ${targetName}: ${Object.keys(prepared.entries).join(', ')}` },
      )
    try {
      await run(input)
      return { target: targetName, entry, result: 'none', error: undefined }
    } catch (error) {
      return { target: targetName, entry, result: failureKindOf(error) ?? 'typed', error }
    }
  } finally {
    await prepared.close?.()
  }
}

/** The line to print for `outcome`, and the exit code: 1 when the input still fails, else 0. */
export function replayVerdict(outcome: ReplayOutcome): { line: string; exitCode: number } {
  const { target, entry, result } = outcome
  if (result === 'none') return { line: `${target}/${entry}: no throw`, exitCode: 0 }
  if (result === 'typed')
    return { line: `${target}/${entry}: typed rejection (no failure)`, exitCode: 0 }
  return { line: `${target}/${entry}: still fails: ${result}`, exitCode: 1 }
}

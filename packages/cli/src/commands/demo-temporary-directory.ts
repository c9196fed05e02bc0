/**
 * The demo's directory: the one `--out` names, kept, or a temporary one made for one run and
 * removed after it, however the run ends.
 *
 * @module
 */
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { removeTree } from '@initguard/files'

const CLEANUP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * Run `work` in a new temporary directory and remove the directory afterwards: on success, on
 * failure, and on SIGINT/SIGTERM/SIGHUP (then exit 128 + the signal number, as a shell does).
 */
export async function withTemporaryDirectory(
  work: (dir: string) => Promise<number>,
): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'initguard-demo-'))
  const onSignal = (signal: (typeof CLEANUP_SIGNALS)[number]): void => {
    // Synchronous: the process exits right after, so nothing asynchronous would finish.
    rmSync(dir, { recursive: true, force: true })
    process.exit(128 + constants.signals[signal])
  }
  for (const signal of CLEANUP_SIGNALS) process.on(signal, onSignal)
  try {
    return await work(dir)
  } finally {
    for (const signal of CLEANUP_SIGNALS) process.off(signal, onSignal)
    await removeTree(dir)
  }
}

/**
 * Run `work` in `requested` (made when missing, and kept: `work` is told so with `kept`) or,
 * without one, in a temporary directory as {@link withTemporaryDirectory} does.
 */
export async function withDemoDirectory(
  requested: string | undefined,
  work: (dir: string, kept: string | undefined) => Promise<number>,
): Promise<number> {
  if (requested === undefined) return withTemporaryDirectory((dir) => work(dir, undefined))
  await mkdir(requested, { recursive: true })
  return work(requested, requested)
}

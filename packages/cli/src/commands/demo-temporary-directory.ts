/**
 * The demo's directory: the one `--out` names, kept, or a temporary one made for one run and
 * removed after it, however the run ends.
 *
 * @module
 */
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readdir, stat } from 'node:fs/promises'
import { constants, tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalIoError, UsageError } from '@initguard/core'
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
 *
 * @throws every error of {@link prepareOutDirectory}.
 */
export async function withDemoDirectory(
  requested: string | undefined,
  work: (dir: string, kept: string | undefined) => Promise<number>,
): Promise<number> {
  if (requested === undefined) return withTemporaryDirectory((dir) => work(dir, undefined))
  await prepareOutDirectory(requested)
  return work(requested, requested)
}

/**
 * Make `--out DIR`, or check that the directory there is empty. The demo writes documents, keys,
 * a simulator and a KBS database under fixed names: in a directory that holds anything, it would
 * replace the user's files of those names, and a second run in its own directory fails half-way
 * (its guests and runtime directories exist already).
 *
 * @throws {@link UsageError} `ERR_DEMO_OUT_NOT_A_DIRECTORY`, `ERR_DEMO_OUT_NOT_EMPTY`;
 *   {@link LocalIoError} `ERR_DEMO_OUT` when it cannot be looked at or made.
 */
export async function prepareOutDirectory(dir: string): Promise<void> {
  const cannot = (error: unknown, verb: string): LocalIoError =>
    new LocalIoError(
      'ERR_DEMO_OUT',
      `cannot ${verb} the demo directory ${JSON.stringify(dir)}: ${String((error as { code?: unknown }).code ?? error)}`,
      { cause: error, details: { path: dir }, hint: 'give --out a directory you can write to' },
    )
  const info = await stat(dir).catch((error: unknown) => {
    if ((error as { code?: unknown }).code === 'ENOENT') return undefined
    throw cannot(error, 'look at')
  })
  if (info === undefined) {
    await mkdir(dir, { recursive: true }).catch((error: unknown) => {
      throw cannot(error, 'make')
    })
    return
  }
  if (!info.isDirectory()) {
    throw new UsageError(
      'ERR_DEMO_OUT_NOT_A_DIRECTORY',
      `--out ${JSON.stringify(dir)} is not a directory`,
      { details: { path: dir }, hint: 'give --out a new directory, or an empty one' },
    )
  }
  const entries = await readdir(dir).catch((error: unknown) => {
    throw cannot(error, 'list')
  })
  if (entries.length > 0) {
    throw new UsageError(
      'ERR_DEMO_OUT_NOT_EMPTY',
      `--out ${JSON.stringify(dir)} is not empty (${entries.length} entries): the demo would write over files there`,
      { details: { path: dir }, hint: 'give --out a new directory, or an empty one' },
    )
  }
}

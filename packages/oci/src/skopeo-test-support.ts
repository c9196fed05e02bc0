/**
 * skopeo as the oracle: run it and say whether it succeeded (exit 0) and what it wrote to stderr.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** What skopeo said: `ok` is exit status 0. */
export interface SkopeoResult {
  readonly ok: boolean
  readonly stderr: string
}

/**
 * Run `skopeo ARGS` with `env` (a GNUPGHOME for signing); a non-zero exit is a result, a failure
 * to start skopeo at all is thrown.
 */
export async function runSkopeo(
  env: NodeJS.ProcessEnv,
  args: readonly string[],
): Promise<SkopeoResult> {
  try {
    await run('skopeo', [...args], { env, timeout: 60_000 })
    return { ok: true, stderr: '' }
  } catch (error) {
    const failure = error as { code?: unknown; stderr?: string }
    if (typeof failure.code !== 'number') throw error
    return { ok: false, stderr: failure.stderr ?? '' }
  }
}

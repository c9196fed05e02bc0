/**
 * The pull after the decision, shared by `image pull` (a policy the host gives) and
 * `agent pull-image` (the policy of the verified `cdh.toml`): decide, then download and unpack
 * only an accepted image, report, and stop cleanly on Ctrl-C (exit 130, nothing half-written).
 * The commands differ only in where the policy, its key files and its lookaside configuration
 * come from.
 *
 * @module
 */
import { constants } from 'node:os'
import { UnavailableError } from '@initguard/core'
import {
  ImagePolicyRejectedError,
  pullImage,
  type BlobProgress,
  type CheckImageOptions,
} from '@initguard/oci'
import type { CliIo } from '../cli-io.ts'
import type { PullArguments } from './image-pull-options.ts'
import { emit, reportError } from '../output.ts'
import { checkedJson, decisionExitCode, decisionJson, describeDecision } from './image-report.ts'

/** A progress line on a terminal, redrawn in place; nothing when stderr is not a terminal. */
function progressReporter(io: CliIo): ((progress: BlobProgress) => void) | undefined {
  if (io.stderr.isTTY !== true) return undefined
  const layers = new Map<string, BlobProgress>()
  let last = 0
  return (progress) => {
    layers.set(progress.digest, progress)
    const now = Date.now()
    const received = [...layers.values()].reduce((sum, p) => sum + p.received, 0)
    const total = [...layers.values()].reduce((sum, p) => sum + p.total, 0)
    if (now - last < 100 && received < total) return
    last = now
    const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
    io.stderr.write(`\r  layers: ${layers.size}, ${mib(received)} / ${mib(total)} MiB`)
    if (received === total) io.stderr.write('\n')
  }
}

/** One pull: the image, where it goes, and the check's settings. */
export interface ImagePullRun extends PullArguments {
  /** Where the policy came from, for reports. */
  readonly policySource: string
  readonly warnings: readonly string[]
  /** The policy, its key files, lookaside and registry settings. */
  readonly check: CheckImageOptions
  /** Added to the JSON report, success or refusal (e.g. what vouched for the policy). */
  readonly extraJson?: Readonly<Record<string, unknown>>
}

/** The signals that stop a pull: Ctrl-C, a polite kill, the terminal closing. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const
type StopSignal = (typeof STOP_SIGNALS)[number]

/**
 * Decide, then pull and unpack into DEST only when the policy allows it. Returns the exit code:
 * 0 pulled, 5 refused (or the key error's code: see {@link decisionExitCode}), 128 + the signal's
 * number when SIGINT, SIGTERM or SIGHUP stopped it (130 for Ctrl-C, as a shell reports an
 * interrupted command and as `demo` exits), with nothing half-written: the downloads stop, the
 * staging directory and the downloaded blobs are removed, and DEST is absent or as it was.
 *
 * @throws every error of `pullImage` but the policy's refusal, which is reported here.
 */
export async function runImagePull(run: ImagePullRun, io: CliIo): Promise<number> {
  const onProgress = progressReporter(io)
  const extra = run.extraJson ?? {}
  const interrupt = new AbortController()
  let stoppedBy: StopSignal | undefined
  // Kept until the pull has cleaned up: a second Ctrl-C must not end the process half-way
  // through removing the staging directory (the first one already stops everything).
  const onSignal = (signal: StopSignal): void => {
    stoppedBy ??= signal
    interrupt.abort()
  }
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal)
  try {
    const pulled = await pullImage(run.reference, run.dest, {
      ...run.check,
      signal: interrupt.signal,
      concurrency: run.concurrency,
      ...(onProgress === undefined ? {} : { onProgress }),
    })
    emit(io, run.json, {
      json: {
        ...checkedJson(run.policySource, pulled.checked),
        ...extra,
        dest: pulled.dest,
        layers: pulled.layers,
        files: pulled.files,
        skipped: pulled.skipped,
      },
      text: [
        ...describeDecision(pulled.checked.decision),
        `pulled ${pulled.checked.reference.text} into ${pulled.dest}: ${pulled.layers} layers, ${pulled.files} files${pulled.skipped.length > 0 ? `, ${pulled.skipped.length} entries skipped` : ''}`,
      ].join('\n'),
      warnings: run.warnings,
    })
    return 0
  } catch (error) {
    if (stoppedBy !== undefined) {
      // Whatever the stop surfaced as (a cancelled download or unpack), it is the signal's.
      reportError(
        io,
        run.json,
        new UnavailableError(
          'ERR_PULL_INTERRUPTED',
          `the pull was stopped by ${stoppedBy}; nothing was written to ${run.dest}`,
          { cause: error, details: { signal: stoppedBy }, hint: 'run the pull again to finish it' },
        ),
      )
      return 128 + constants.signals[stoppedBy]
    }
    if (!(error instanceof ImagePolicyRejectedError)) throw error
    emit(io, run.json, {
      json: {
        ok: false,
        reference: run.given,
        policy: run.policySource,
        ...extra,
        decision: decisionJson(error.decision),
        error: error.toJSON(),
      },
      text: [...describeDecision(error.decision), 'nothing was pulled'].join('\n'),
      warnings: run.warnings,
    })
    return decisionExitCode(error.decision)
  } finally {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal)
  }
}

/**
 * `kbs admin workload get` of a workload whose stored row does not authenticate: the KBS answers
 * 409 `WorkloadUnusable` with the coded reason and the definition text as the row holds it,
 * UNAUTHENTICATED (written before migration 002, or changed behind the KBS). The operator needs
 * that text to repair the workload (review it, put it again), so it is shown, but never as a
 * workload: the command fails (exit 5, `ERR_KBS_WORKLOAD_UNUSABLE`, which no other `kbs admin`
 * failure gives), the text sits between markers that say it is unauthenticated, and never under
 * `result` nor as a `definition`, so a script that reads a successful get does not take it for one.
 *
 * The text is whatever the writer of the database chose, so before it reaches a terminal every
 * control, format (bidirectional overrides, zero-width characters) and line-separator character
 * is written as `\uXXXX`: it cannot move the cursor, recolour, or reorder what the operator reads.
 * In JSON the same characters are escaped too (the same JSON value, spelt safely).
 *
 * @module
 */
import { ExpectationError, UsageError } from '@initguard/core'
import type { CliIo } from '../cli-io.ts'
import { EXIT_CODES } from '../exit-codes.ts'
import { emit } from '../output.ts'
import type { KbsAdminAnswer } from './kbs-admin-request.ts'
import { terminalSafe, terminalSafeJson } from './terminal-safe.ts'

/** What the KBS says of a workload it will not use, checked. */
export interface UnusableWorkloadAnswer {
  readonly workload: string
  readonly version: number
  readonly reason: { readonly code: string; readonly message: string; readonly hint?: string }
  /** The stored definition text; unauthenticated. */
  readonly unauthenticatedDefinition: string
}

/** The status the KBS answers an unusable workload's GET with. */
export const UNUSABLE_STATUS = 409

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The 409 answer to `GET /kbs/v0/admin/workloads/<name>`, checked: every member present and of
 * its type, the workload the one asked for. Anything else is refused (not shown as this).
 */
export function unusableWorkloadAnswer(
  name: string,
  answer: KbsAdminAnswer,
): UnusableWorkloadAnswer {
  const body = answer.body
  const reason = isRecord(body) ? body['unusable'] : undefined
  if (
    answer.status !== UNUSABLE_STATUS ||
    !isRecord(body) ||
    typeof body['type'] !== 'string' ||
    !body['type'].endsWith('/WorkloadUnusable') ||
    body['workload'] !== name ||
    !Number.isSafeInteger(body['version']) ||
    typeof body['unauthenticatedDefinition'] !== 'string' ||
    !isRecord(reason) ||
    typeof reason['code'] !== 'string' ||
    typeof reason['message'] !== 'string' ||
    (reason['hint'] !== undefined && typeof reason['hint'] !== 'string')
  )
    throw new UsageError(
      'ERR_KBS_ADMIN_REQUEST',
      `the KBS answered GET workload ${name} with ${String(answer.status)} but not the unusable-workload body this client knows`,
      { details: { status: answer.status }, hint: 'use a KBS and CLI of the same version' },
    )
  return {
    workload: name,
    version: body['version'] as number,
    reason: {
      code: reason['code'],
      message: reason['message'],
      ...(typeof reason['hint'] === 'string' ? { hint: reason['hint'] } : {}),
    },
    unauthenticatedDefinition: body['unauthenticatedDefinition'],
  }
}

/**
 * Report an unusable workload: the coded failure, and the stored text marked unauthenticated.
 * Returns the exit code (5, the `expectation` category's: the KBS answered, and the workload it
 * holds is not one it uses).
 */
export function reportUnusableWorkload(
  io: CliIo,
  json: boolean,
  action: string,
  answer: UnusableWorkloadAnswer,
): number {
  const { workload, version, reason } = answer
  const error = new ExpectationError(
    'ERR_KBS_WORKLOAD_UNUSABLE',
    `workload ${workload} v${String(version)} is not used by the KBS: its stored row failed its integrity check (${reason.code}): ${reason.message}`,
    {
      details: { workload, version, reason: reason.code },
      hint: `its stored definition is shown UNAUTHENTICATED: compare it with your own copy, then put the workload again (initguard kbs admin … workload put --name ${workload} …), which makes a new, authenticated version`,
    },
  )
  if (json) {
    const document = {
      ok: false,
      action,
      error: error.toJSON(),
      unauthenticatedDefinition: answer.unauthenticatedDefinition,
    }
    io.stdout.write(terminalSafeJson(document) + '\n')
  } else {
    emit(io, false, {
      json: {},
      text: [
        `UNAUTHENTICATED stored definition of workload ${workload} v${String(version)}: the KBS does not use it.`,
        'It failed its integrity check and may have been written behind the KBS: review every field',
        'against your own copy before you put it again. Control and format characters are shown as \\uXXXX.',
        '-----BEGIN UNAUTHENTICATED WORKLOAD DEFINITION-----',
        terminalSafe(answer.unauthenticatedDefinition),
        '-----END UNAUTHENTICATED WORKLOAD DEFINITION-----',
      ].join('\n'),
    })
    io.stderr.write(`initguard: ${terminalSafe(error.message)}\n`)
    io.stderr.write(`  hint: ${error.hint ?? ''}\n  code: ${error.code}\n`)
  }
  return EXIT_CODES[error.category]
}

/**
 * `initguard kbs admin … audit prune --before TIME (--archive FILE | --no-archive)`: archive, then
 * prune, never lose. Pages the log (`GET /kbs/v0/admin/audit`, in commit order: on PostgreSQL ids
 * do not always increase along it) and archives every entry up to the first that is not older
 * than `--before` (neither ids nor `at` are in time order across replicas), never the newest entry
 * (the KBS keeps it). Those entries go to FILE as JSON lines, as the KBS answered them (created,
 * never overwritten, mode 0600, flushed to disk with its directory), and only then are they pruned
 * (`POST /kbs/v0/admin/audit/prune`, which removes by id): through the largest archived id below
 * every id listed but not archived, in steps of at most {@link AUDIT_PRUNE_MAX}, each naming how
 * many entries the archive holds up to its id. The KBS refuses a step whose count differs (an
 * entry the archive lacks, e.g. one committed after the first that is not older but with a lower
 * id), and one that would remove an entry younger than its `[audit] min-retention`. An archived
 * entry above that id (a commit out of id order at the boundary) stays in the KBS and is archived
 * again by the next run. A failure before the first step prunes nothing; a failed step leaves the
 * archive, and the message says what was pruned and where the archive is.
 *
 * Without `--archive` the command refuses: the entries would be gone. `--no-archive` says so
 * explicitly, for a log already copied elsewhere (the entries are still read, to count them).
 *
 * @module
 */
import { open, unlink, type FileHandle } from 'node:fs/promises'
import { dirname } from 'node:path'
import type { InitguardError } from '@initguard/core'
import { LocalIoError, MalformedInputError, UsageError, isInitguardError } from '@initguard/core'
import { flushDirectory } from '@initguard/files'
import { AUDIT_PRUNE_MAX } from '@initguard/kbs-protocol'
import { jsonObjectAnswer, kbsAdminCall, type KbsAdminTarget } from './kbs-admin-request.ts'

/** What `audit prune` is asked. */
export interface AuditPruneOptions {
  /** Prune entries older than this. */
  readonly before: Date
  /** Where the entries go first; `undefined` with `--no-archive` only. */
  readonly archive: string | undefined
}

/** What `audit prune` did. */
export interface AuditPruneReport {
  readonly archive: string | null
  /** Entries archived (written to the file, or, with --no-archive, counted). */
  readonly archived: number
  /** The last id archived and pruned (0: none). */
  readonly throughId: number
  /** Entries the KBS removed (fewer than archived when another prune got there first). */
  readonly pruned: number
  readonly steps: number
  readonly firstAt?: string
  readonly lastAt?: string
}

/** One step of the prune: through which id, and how many entries the archive holds up to it. */
interface Step {
  readonly throughId: number
  readonly count: number
}

const PAGE = 1000
const AUDIT = '/kbs/v0/admin/audit'
const PRUNE = '/kbs/v0/admin/audit/prune'

/**
 * Check `--archive` and `--no-archive` together.
 *
 * @throws {@link UsageError} `ERR_USAGE` for neither, both, or `--archive -`.
 */
export function archiveChoice(archive: string | undefined, noArchive: boolean): string | undefined {
  if (archive !== undefined && noArchive)
    throw new UsageError('ERR_USAGE', '--archive and --no-archive contradict each other', {
      hint: 'keep --archive FILE (the entries are written there before they are pruned)',
    })
  if (archive === undefined && !noArchive)
    throw new UsageError(
      'ERR_USAGE',
      'audit prune needs --archive FILE: the entries it removes are written there first, and are gone from the KBS after',
      {
        hint: 'give --archive FILE (a new file), or --no-archive if the log is already copied elsewhere and the entries may go',
      },
    )
  if (archive === '-')
    throw new UsageError('ERR_USAGE', '--archive - is not a file that can be flushed to disk', {
      hint: 'give --archive a new file',
    })
  return archive
}

/** Run `audit prune` against `target`. */
export async function auditPrune(
  target: KbsAdminTarget,
  options: AuditPruneOptions,
): Promise<AuditPruneReport> {
  const file = options.archive === undefined ? undefined : await createArchive(options.archive)
  let archived: { steps: readonly Step[]; count: number }
  try {
    archived = await archiveEntries(target, options.before, file)
    if (file !== undefined) await written(file.path, file.handle.sync())
  } catch (cause) {
    await file?.handle.close().catch(() => undefined)
    throw noted(
      cause,
      `nothing was pruned${file === undefined ? '' : `; the partial archive ${file.path} can be removed`}`,
    )
  }
  if (file !== undefined) {
    await file.handle.close()
    if (archived.count === 0) await unlink(file.path)
    else await flushDirectory(dirname(file.path))
  }
  return pruneSteps(target, archived.steps, {
    archive: archived.count === 0 ? null : (options.archive ?? null),
    archived: archived.count,
    throughId: 0,
    pruned: 0,
    steps: 0,
  })
}

/** `work` on the archive at `path`, its failure (a full disk) a coded error. */
async function written(path: string, work: Promise<void>): Promise<void> {
  try {
    await work
  } catch (cause) {
    throw new LocalIoError('ERR_FILE_WRITE', `cannot write the archive ${path}`, {
      cause,
      details: { path },
      hint: 'check the free space and the file system, then run the command again with a new file',
    })
  }
}

/** The archive, created here (never overwritten), 0600. */
async function createArchive(path: string): Promise<{ path: string; handle: FileHandle }> {
  try {
    return { path, handle: await open(path, 'wx', 0o600) }
  } catch (cause) {
    const exists = (cause as { code?: unknown } | null)?.code === 'EEXIST'
    throw new LocalIoError(
      exists ? 'ERR_FILE_EXISTS' : 'ERR_FILE_WRITE',
      exists
        ? `the archive ${path} exists: audit prune never writes over a file`
        : `cannot create the archive ${path}`,
      {
        cause,
        details: { path },
        hint: exists ? 'give --archive a new file name' : 'check the path and its directory',
      },
    )
  }
}

/**
 * Page the log from its start and write every entry that may be pruned; the steps to prune it.
 * An entry is written once the next one is known to exist: the newest entry is never pruned.
 */
async function archiveEntries(
  target: KbsAdminTarget,
  before: Date,
  file: { readonly path: string; readonly handle: FileHandle } | undefined,
): Promise<{ steps: readonly Step[]; count: number }> {
  const archived: number[] = []
  const seen = new Set<number>()
  /** The lowest id listed but not archived: no step may reach it. */
  let lowestKept = Number.POSITIVE_INFINITY
  let pending: { readonly id: number; readonly line: string } | undefined
  let after = 0
  for (let stop = false; !stop;) {
    const entries = await page(target, after, seen)
    if (entries.length === 0) break
    const lines: string[] = []
    for (const entry of entries) {
      if (stop) {
        lowestKept = Math.min(lowestKept, entry.id)
        continue
      }
      if (pending !== undefined) {
        lines.push(`${pending.line}\n`)
        archived.push(pending.id)
        pending = undefined
      }
      // Not older (or no time to tell): this entry and every one after it stay.
      if (!(Date.parse(entry.at) < before.getTime())) {
        stop = true
        lowestKept = Math.min(lowestKept, entry.id)
        continue
      }
      pending = { id: entry.id, line: JSON.stringify(entry.raw) }
      after = entry.id
    }
    if (file !== undefined && lines.length > 0)
      await written(file.path, file.handle.writeFile(lines.join('')))
  }
  if (pending !== undefined) lowestKept = Math.min(lowestKept, pending.id)
  return { steps: stepsOf(archived, lowestKept), count: archived.length }
}

/**
 * The prune steps for the `archived` ids: every one below `lowestKept` (the KBS prunes by id, so a
 * step through an id at or above an entry the archive lacks would be refused), in id order, at
 * most {@link AUDIT_PRUNE_MAX} a step, each naming how many archived ids it covers.
 */
function stepsOf(archived: readonly number[], lowestKept: number): Step[] {
  const ids = archived.filter((id) => id < lowestKept).sort((x, y) => x - y)
  const steps: Step[] = []
  for (let start = 0; start < ids.length; start += AUDIT_PRUNE_MAX) {
    const chunk = ids.slice(start, start + AUDIT_PRUNE_MAX)
    steps.push({ throughId: chunk.at(-1) ?? 0, count: chunk.length })
  }
  return steps
}

/** One entry of a page: its id and time, checked, and the object as the KBS answered it. */
interface PagedEntry {
  readonly id: number
  readonly at: string
  readonly raw: Readonly<Record<string, unknown>>
}

/**
 * The entries after entry `after` (0: from the start), checked: objects with whole ids from 1, none
 * listed before in this run (`seen`, which this adds to). Not necessarily increasing: the log is
 * in commit order.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_ADMIN_ANSWER` for anything else.
 */
async function page(
  target: KbsAdminTarget,
  after: number,
  seen: Set<number>,
): Promise<readonly PagedEntry[]> {
  const path = `${AUDIT}?after=${String(after)}&limit=${String(PAGE)}`
  const { entries } = jsonObjectAnswer('GET', path, await kbsAdminCall(target, 'GET', path))
  const malformed = (what: string): MalformedInputError =>
    new MalformedInputError(
      'ERR_KBS_ADMIN_ANSWER',
      `the KBS answered GET ${path} with ${what}: nothing was pruned`,
      {
        hint: 'check that --url is the KBS itself, and that the KBS and this CLI are of the same version',
      },
    )
  if (!Array.isArray(entries)) throw malformed('no entries list')
  return entries.map((entry: unknown) => {
    const { id, at } = (typeof entry === 'object' && entry !== null ? entry : {}) as Record<
      string,
      unknown
    >
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1)
      throw malformed('an entry whose id is not a whole number from 1')
    if (seen.has(id)) throw malformed(`entry ${String(id)} a second time`)
    seen.add(id)
    return {
      id,
      at: typeof at === 'string' ? at : '',
      raw: entry as Readonly<Record<string, unknown>>,
    }
  })
}

/** Prune step by step; a failed step says what was pruned before it and where the archive is. */
async function pruneSteps(
  target: KbsAdminTarget,
  steps: readonly Step[],
  report: AuditPruneReport,
): Promise<AuditPruneReport> {
  let done = report
  for (const step of steps) {
    let answer: Record<string, unknown>
    try {
      const body = JSON.stringify({ throughId: step.throughId, expectedCount: step.count })
      answer = jsonObjectAnswer(
        'POST',
        PRUNE,
        await kbsAdminCall(target, 'POST', PRUNE, {
          bytes: new TextEncoder().encode(body),
          type: 'application/json',
        }),
      )
    } catch (cause) {
      const kept =
        done.archive === null
          ? 'no archive was written (--no-archive)'
          : `the archive ${done.archive} stays, with all ${String(done.archived)} entries`
      throw noted(
        cause,
        `pruned through entry ${String(done.throughId)} (${String(done.pruned)} entries) before this step, nothing after; ${kept}`,
      )
    }
    const { pruned, firstAt, lastAt } = answer
    done = {
      ...done,
      throughId: step.throughId,
      pruned: done.pruned + (typeof pruned === 'number' ? pruned : 0),
      steps: done.steps + 1,
      // Ids are not in time order across replicas: the oldest and newest over every step.
      ...(typeof firstAt === 'string' && !(done.firstAt !== undefined && done.firstAt <= firstAt)
        ? { firstAt }
        : {}),
      ...(typeof lastAt === 'string' && !(done.lastAt !== undefined && done.lastAt >= lastAt)
        ? { lastAt }
        : {}),
    }
  }
  return done
}

/** `cause` with `note` added to its message, same class and code (exit code unchanged). */
function noted(cause: unknown, note: string): unknown {
  if (!isInitguardError(cause)) return cause
  const Same = cause.constructor as new (
    ...args: ConstructorParameters<typeof UsageError>
  ) => InitguardError
  return new Same(cause.code, `${cause.message}; ${note}`, {
    cause,
    details: cause.details,
    ...(cause.hint === undefined ? {} : { hint: cause.hint }),
  })
}

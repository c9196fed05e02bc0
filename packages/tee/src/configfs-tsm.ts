/**
 * SEV-SNP and TDX evidence through the kernel's configfs-tsm report interface
 * (`Documentation/ABI/testing/configfs-tsm-report`; guest-side.md §2.1). One request:
 *
 * ```text
 * mkdir  <dir>/initguard-<uuid>        a new entry: the kernel fills it with its attributes
 * read   provider                      must be sev_guest (snp) or tdx_guest (tdx)
 * read   privlevel_floor               SNP only: the lowest VMPL the kernel accepts
 * write  privlevel                     SNP only: the VMPL to report at (default 0)
 * read   generation                    g: the kernel bumps it on every write to the entry
 * write  inblob                        REPORT_DATA, 64 bytes
 * read   outblob                       the report (SNP) or quote (TDX), made on this read
 * read   auxblob                       SNP only: the certificate table (may be empty or absent)
 * read   generation                    must be g + 1, else another writer changed the entry
 * rmdir  <dir>/initguard-<uuid>        always, also after a failure
 * ```
 *
 * Each request uses its own uniquely named entry, so concurrent `report` calls never share one;
 * the generation check catches anybody else who writes into ours.
 *
 * @module
 */
import { mkdir, rmdir } from 'node:fs/promises'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import {
  LocalIoError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  type InitguardError,
} from '@initguard/core'
import type { GuestReport, GuestTee } from './guest-tee.ts'
import { snpGuestReport, tdxGuestReport } from './hardware-evidence.ts'
import {
  errnoOf,
  padReportData,
  readOptionalTeeFile,
  readTeeFile,
  readTeeText,
  teeFileError,
  throwIfAborted,
  writeTeeFile,
} from './tee-files.ts'
import { readTdxExtras, type TdxPlatformPaths } from './tdx-platform.ts'

/** Where the kernel's configfs-tsm report entries are made. */
export const DEFAULT_CONFIGFS_TSM_DIR = '/sys/kernel/config/tsm/report'

/** The `provider` each TEE's driver registers. */
export const TSM_PROVIDERS = { snp: 'sev_guest', tdx: 'tdx_guest' } as const

/** SEV-SNP's highest VMPL, the kernel's `TSM_PRIVLEVEL_MAX`. */
export const TSM_PRIVLEVEL_MAX = 3

/**
 * How entries are made and removed. On configfs `rmdir` removes an entry together with its
 * attribute files and `mkdir` makes them appear at once, which no ordinary file system does; a
 * stand-in tree in tests supplies its own pair (see `tsm-stand-in-test-support.ts`). Production
 * always uses {@link CONFIGFS_ENTRY_OPS}.
 */
export interface ConfigfsEntryOps {
  create(path: string): Promise<void>
  remove(path: string): Promise<void>
}

/** The real configfs: plain `mkdir` and `rmdir`. */
export const CONFIGFS_ENTRY_OPS: ConfigfsEntryOps = {
  create: async (path) => {
    await mkdir(path)
  },
  remove: (path) => rmdir(path),
}

/** Options for {@link openConfigfsTsm}. */
export interface ConfigfsTsmOptions extends TdxPlatformPaths {
  /** Which TEE the provider must be. */
  readonly tee: 'snp' | 'tdx'
  /** The report directory; default {@link DEFAULT_CONFIGFS_TSM_DIR}. */
  readonly dir?: string
  /** SNP only: the VMPL to report at, 0–3, at least `privlevel_floor`; default 0. */
  readonly snpPrivlevel?: number
}

function checkPrivlevel(privlevel: number | undefined, tee: 'snp' | 'tdx'): number | undefined {
  if (privlevel === undefined) return tee === 'snp' ? 0 : undefined
  if (tee !== 'snp') {
    throw new UsageError(
      'ERR_TEE_OPTION_NOT_APPLICABLE',
      `a privilege level (VMPL ${privlevel}) was given, but only SEV-SNP reports take one and this is ${tee}`,
      { details: { option: 'snpPrivlevel', tee }, hint: 'drop the privilege level option' },
    )
  }
  if (!Number.isInteger(privlevel) || privlevel < 0 || privlevel > TSM_PRIVLEVEL_MAX) {
    throw new UsageError(
      'ERR_TEE_PRIVLEVEL_INVALID',
      `the SEV-SNP privilege level must be an integer 0–${TSM_PRIVLEVEL_MAX} (got ${privlevel})`,
      { details: { option: 'snpPrivlevel', value: String(privlevel) } },
    )
  }
  return privlevel
}

function parseCounter(text: string, path: string, what: string): number {
  if (!/^\d{1,10}$/.test(text)) {
    throw new MalformedInputError(
      'ERR_TEE_TSM_ATTRIBUTE_MALFORMED',
      `${path} (${what}) is not a decimal number`,
      {
        details: { path, length: text.length },
        hint: 'this is not a configfs-tsm report entry',
      },
    )
  }
  return Number(text)
}

/** Make a new entry, with the errors that say why configfs-tsm is not there. */
async function createEntry(ops: ConfigfsEntryOps, dir: string, entry: string): Promise<void> {
  try {
    await ops.create(entry)
  } catch (error) {
    const errno = errnoOf(error)
    if (errno === 'ENOENT' || errno === 'ENOTDIR') {
      throw new UnavailableError(
        'ERR_TEE_TSM_UNAVAILABLE',
        `there is no configfs-tsm report directory at ${dir}`,
        {
          cause: error,
          details: { path: dir, errno },
          hint: 'mount configfs (mount -t configfs none /sys/kernel/config) on a kernel with CONFIG_TSM_REPORTS (6.7+) inside an SEV-SNP or TDX guest, or pass --tee for another TEE',
        },
      )
    }
    if (errno === 'ENXIO') {
      throw new UnavailableError(
        'ERR_TEE_TSM_NO_PROVIDER',
        `configfs-tsm at ${dir} has no provider: no TEE guest driver is loaded`,
        {
          cause: error,
          details: { path: dir, errno },
          hint: 'load the sev-guest or tdx-guest kernel module (this may not be a confidential guest)',
        },
      )
    }
    throw teeFileError(error, 'create', entry, 'configfs-tsm report entry')
  }
}

/** Read `provider` of a fresh entry; ENOENT means the directory is not configfs-tsm. */
export async function readProvider(entry: string, dir: string): Promise<string> {
  const path = join(entry, 'provider')
  const bytes = await readOptionalTeeFile(path, 'configfs-tsm provider')
  if (bytes === undefined) {
    throw new UnavailableError(
      'ERR_TEE_TSM_NOT_CONFIGFS',
      `${dir} is not a configfs-tsm report directory: a new entry has no provider attribute`,
      {
        details: { path: dir },
        hint: 'point the configfs-tsm directory at /sys/kernel/config/tsm/report',
      },
    )
  }
  const text = new TextDecoder().decode(bytes)
  return text.endsWith('\n') ? text.slice(0, -1) : text
}

function providerMismatch(expected: 'snp' | 'tdx', provider: string, dir: string): UsageError {
  return new UsageError(
    'ERR_TEE_TSM_PROVIDER_MISMATCH',
    `${expected} was asked for, but the configfs-tsm provider at ${dir} is ${JSON.stringify(provider)} (not ${TSM_PROVIDERS[expected]})`,
    {
      details: { expected: TSM_PROVIDERS[expected], found: provider, path: dir },
      hint: 'pass the --tee this guest runs in (or --tee auto)',
    },
  )
}

/**
 * Run `work` inside a fresh entry and always remove the entry afterwards, also when `work` fails.
 * A failure to remove it is never swallowed (a leaked entry is a fault the operator must see):
 * after a successful `work` it is thrown; after a failed one it is thrown with the work's error
 * in its message and as its `cause`.
 */
export async function withTsmEntry<T>(
  ops: ConfigfsEntryOps,
  dir: string,
  work: (entry: string) => Promise<T>,
): Promise<T> {
  const entry = join(dir, `initguard-${randomUUID()}`)
  await createEntry(ops, dir, entry)
  let outcome: { ok: true; value: T } | { ok: false; error: unknown }
  try {
    outcome = { ok: true, value: await work(entry) }
  } catch (error) {
    outcome = { ok: false, error }
  }
  try {
    await ops.remove(entry)
  } catch (removal) {
    const failed = teeFileError(removal, 'remove', entry, 'configfs-tsm report entry')
    if (outcome.ok) throw failed
    const first = outcome.error instanceof Error ? outcome.error.message : String(outcome.error)
    throw new LocalIoError('ERR_TEE_TSM_ENTRY_REMOVE', `${failed.message}, after: ${first}`, {
      cause: outcome.error,
      details: { path: entry, errno: errnoOf(removal) ?? 'unknown' },
      hint: `remove ${entry} by hand (rmdir) and look into both failures`,
    })
  }
  if (!outcome.ok) throw outcome.error
  return outcome.value
}

function concurrentWriter(entry: string, before: number, after: number): InitguardError {
  return new UnavailableError(
    'ERR_TEE_TSM_CONCURRENT_WRITER',
    `another writer changed the configfs-tsm entry ${entry} during the request (generation ${before} → ${after}, expected ${before + 1})`,
    {
      details: { path: entry, before, after, expected: before + 1 },
      hint: 'something else writes into the agent’s report entries; find it (only the agent should use configfs-tsm here) and retry',
    },
  )
}

/**
 * Open configfs-tsm for SEV-SNP or TDX. Nothing is touched until {@link GuestTee.report}; use
 * `openHardwareTee` to probe the platform first.
 *
 * @throws {@link UsageError} `ERR_TEE_OPTION_NOT_APPLICABLE`, `ERR_TEE_PRIVLEVEL_INVALID`.
 */
export function openConfigfsTsm(
  options: ConfigfsTsmOptions,
  ops: ConfigfsEntryOps = CONFIGFS_ENTRY_OPS,
): GuestTee {
  const { tee } = options
  const dir = options.dir ?? DEFAULT_CONFIGFS_TSM_DIR
  const privlevel = checkPrivlevel(options.snpPrivlevel, tee)
  if (
    tee === 'snp' &&
    (options.ccelPath !== undefined || options.tdxMeasurementsDir !== undefined)
  ) {
    throw new UsageError(
      'ERR_TEE_OPTION_NOT_APPLICABLE',
      'a TDX event log or measurements path was given, but this is SEV-SNP',
      { details: { tee }, hint: 'drop the TDX-only options' },
    )
  }
  const description = `configfs-tsm ${TSM_PROVIDERS[tee]} at ${dir}`

  const request = async (entry: string, reportData: Uint8Array, signal?: AbortSignal) => {
    const provider = await readProvider(entry, dir)
    if (provider !== TSM_PROVIDERS[tee]) throw providerMismatch(tee, provider, dir)
    if (privlevel !== undefined) {
      const floorPath = join(entry, 'privlevel_floor')
      const floor = parseCounter(
        await readTeeText(floorPath, 'privlevel floor'),
        floorPath,
        'privlevel floor',
      )
      if (privlevel < floor) {
        throw new UsageError(
          'ERR_TEE_PRIVLEVEL_BELOW_FLOOR',
          `VMPL ${privlevel} was asked for, but the kernel reports no lower than VMPL ${floor} (${floorPath})`,
          {
            details: { privlevel, floor, path: floorPath },
            hint: `ask for a privilege level of at least ${floor}`,
          },
        )
      }
      await writeTeeFile(join(entry, 'privlevel'), `${privlevel}\n`, 'privlevel')
    }
    const generationPath = join(entry, 'generation')
    const before = parseCounter(
      await readTeeText(generationPath, 'generation'),
      generationPath,
      'generation',
    )
    throwIfAborted(signal)
    await writeTeeFile(join(entry, 'inblob'), reportData, 'inblob (REPORT_DATA)')
    const outblob = await readTeeFile(join(entry, 'outblob'), 'outblob (report)')
    const auxblob =
      tee === 'snp'
        ? await readOptionalTeeFile(join(entry, 'auxblob'), 'auxblob (certificate table)')
        : undefined
    const after = parseCounter(
      await readTeeText(generationPath, 'generation'),
      generationPath,
      'generation',
    )
    if (after !== before + 1) throw concurrentWriter(entry, before, after)
    if (outblob.length === 0) {
      throw new UnavailableError(
        'ERR_TEE_TSM_OUTBLOB_EMPTY',
        `the ${TSM_PROVIDERS[tee]} provider returned an empty report (${join(entry, 'outblob')})`,
        {
          details: { path: entry, provider },
          hint:
            tee === 'tdx'
              ? 'TDX quotes come from the host’s quote generation service: check that QGS runs and the TD can reach it (vsock or GetQuote)'
              : 'the SEV firmware produced no report: see dmesg for sev-guest',
        },
      )
    }
    return { outblob, auxblob }
  }

  return {
    tee,
    simulated: false,
    description,
    async report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport> {
      const requested = padReportData(reportData)
      throwIfAborted(signal)
      const { outblob, auxblob } = await withTsmEntry(ops, dir, (entry) =>
        request(entry, requested, signal),
      )
      if (tee === 'snp') return snpGuestReport(outblob, auxblob, requested, description)
      return tdxGuestReport(outblob, requested, description, await readTdxExtras(options))
    },
  }
}

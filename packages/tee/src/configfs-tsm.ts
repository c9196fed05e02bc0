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
import { join } from 'node:path'
import {
  MalformedInputError,
  UnavailableError,
  UsageError,
  type InitguardError,
} from '@initguard/core'
import {
  CONFIGFS_ENTRY_OPS,
  DEFAULT_CONFIGFS_TSM_DIR,
  readProvider,
  TSM_PROVIDERS,
  withTsmEntry,
  type ConfigfsEntryOps,
} from './configfs-tsm-entry.ts'
import type { GuestReport, GuestTee } from './guest-tee.ts'
import { snpGuestReport, tdxGuestReport } from './hardware-evidence.ts'
import {
  padReportData,
  readOptionalTeeFile,
  readTeeFile,
  readTeeText,
  throwIfAborted,
  writeTeeFile,
} from './tee-files.ts'
import { readTdxExtras, type TdxPlatformPaths } from './tdx-platform.ts'

/** SEV-SNP's highest VMPL, the kernel's `TSM_PRIVLEVEL_MAX`. */
export const TSM_PRIVLEVEL_MAX = 3

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
 * @param ops how entries are made and removed: always {@link CONFIGFS_ENTRY_OPS} (plain `mkdir`
 *   and `rmdir`) outside tests; the stand-in tree's tests pass their own (see `ConfigfsEntryOps`).
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

/**
 * SEV-SNP and TDX evidence through the kernel's configfs-tsm report interface
 * (`Documentation/ABI/testing/configfs-tsm-report`; guest-side.md §2.1). One request:
 *
 * ```text
 * mkdir  <dir>/initguard-<uuid>        a new entry: the kernel fills it with its attributes
 * read   provider                      must be sev_guest (snp) or tdx_guest (tdx)
 * read   privlevel_floor               SNP only: the lowest VMPL the kernel accepts
 * write  privlevel                     SNP only: the VMPL to report at (default: the floor)
 * read   generation                    g: the kernel bumps it on every write to the entry
 * write  inblob                        REPORT_DATA, 64 bytes
 * read   outblob                       the report (SNP) or quote (TDX), made on this read
 * read   auxblob                       SNP only: the certificate table (may be empty or absent)
 * read   generation                    must be g + 1, else another writer changed the entry
 * rmdir  <dir>/initguard-<uuid>        always, also after a failure
 * ```
 *
 * Each request uses its own uniquely named entry, so concurrent `report` calls never share one;
 * the generation check catches anybody else who writes into ours. The SNP report's VMPL must be
 * the one written; a TDX report also needs the TD's MRCONFIGID from sysfs (tdx-platform.ts).
 *
 * Internal: {@link openConfigfsTsmWith} takes the platform operations as an argument so that the
 * stand-in tree's tests can pass their own (which skip the configfs and sysfs file-system checks
 * an ordinary directory cannot pass). The package exports only `openConfigfsTsm`
 * (configfs-tsm.ts), which always passes `TEE_PLATFORM_OPS`.
 *
 * @module
 */
import { join } from 'node:path'
import {
  InternalError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  type InitguardError,
} from '@initguard/core'
import {
  DEFAULT_CONFIGFS_TSM_DIR,
  readProvider,
  TSM_PROVIDERS,
  withTsmEntry,
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
import { readTdxPlatform, type TdxPlatformPaths } from './tdx-platform.ts'
import type { TeePlatformOps } from './tee-platform-ops.ts'

/** SEV-SNP's highest VMPL, the kernel's `TSM_PRIVLEVEL_MAX`. */
export const TSM_PRIVLEVEL_MAX = 3

/** Options for `openConfigfsTsm`. */
export interface ConfigfsTsmOptions extends TdxPlatformPaths {
  /** Which TEE the provider must be. */
  readonly tee: 'snp' | 'tdx'
  /** The report directory; default {@link DEFAULT_CONFIGFS_TSM_DIR}. */
  readonly dir?: string
  /**
   * SNP only: the VMPL to report at, 0–{@link TSM_PRIVLEVEL_MAX}, at least the kernel's
   * `privlevel_floor`. Default: `privlevel_floor` itself (0 without an SVSM; the SVSM's floor
   * under one), so a guest under an SVSM needs no option.
   */
  readonly snpPrivlevel?: number
}

/**
 * Check an explicit SEV-SNP privilege level (the agent's `--snp-vmpl`): an integer 0–3, and only
 * for SEV-SNP.
 *
 * @throws {@link UsageError} `ERR_TEE_OPTION_NOT_APPLICABLE`, `ERR_TEE_PRIVLEVEL_INVALID`.
 */
export function checkSnpPrivlevel(
  privlevel: number | undefined,
  tee: 'snp' | 'tdx',
): number | undefined {
  if (privlevel === undefined) return undefined
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

/** After detection (or without it) the entry's provider is another: the platform changed. */
function providerMismatch(expected: 'snp' | 'tdx', provider: string, dir: string): InitguardError {
  return new UnavailableError(
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

/** Read the entry's `privlevel_floor` and choose the VMPL: the one given, or the floor. */
async function choosePrivlevel(entry: string, given: number | undefined): Promise<number> {
  const floorPath = join(entry, 'privlevel_floor')
  const floor = parseCounter(
    await readTeeText(floorPath, 'privlevel floor'),
    floorPath,
    'privlevel floor',
  )
  if (given === undefined) return floor
  if (given < floor) {
    throw new UsageError(
      'ERR_TEE_PRIVLEVEL_BELOW_FLOOR',
      `VMPL ${given} was asked for, but the kernel reports no lower than VMPL ${floor} (${floorPath})`,
      {
        details: { privlevel: given, floor, path: floorPath },
        hint: `ask for a privilege level of at least ${floor}, or none (the floor is then used)`,
      },
    )
  }
  return given
}

/**
 * `openConfigfsTsm` with the platform operations passed in (module comment).
 *
 * @internal for tests: production code calls `openConfigfsTsm`.
 * @throws {@link UsageError} `ERR_TEE_OPTION_NOT_APPLICABLE`, `ERR_TEE_PRIVLEVEL_INVALID`.
 */
export function openConfigfsTsmWith(options: ConfigfsTsmOptions, ops: TeePlatformOps): GuestTee {
  const { tee } = options
  const dir = options.dir ?? DEFAULT_CONFIGFS_TSM_DIR
  const givenPrivlevel = checkSnpPrivlevel(options.snpPrivlevel, tee)
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
    // SNP: the VMPL is written (also when it is the floor, so the report is never at a level
    // somebody else left in the entry) and the report must carry it.
    const vmpl = tee === 'snp' ? await choosePrivlevel(entry, givenPrivlevel) : undefined
    if (vmpl !== undefined) await writeTeeFile(join(entry, 'privlevel'), `${vmpl}\n`, 'privlevel')
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
    return { outblob, auxblob, vmpl }
  }

  return {
    tee,
    simulated: false,
    description,
    async report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport> {
      const requested = padReportData(reportData)
      throwIfAborted(signal)
      // TDX: the TD's own MRCONFIGID first; without it no quote is asked for.
      const platform = tee === 'tdx' ? await readTdxPlatform(options, ops) : undefined
      const { outblob, auxblob, vmpl } = await withTsmEntry(ops, dir, (entry) =>
        request(entry, requested, signal),
      )
      if (platform !== undefined) return tdxGuestReport(outblob, requested, description, platform)
      if (vmpl === undefined) {
        throw new InternalError('ERR_INTERNAL', 'no VMPL was chosen for an SEV-SNP report')
      }
      return snpGuestReport(outblob, auxblob, { reportData: requested, vmpl }, description)
    },
  }
}

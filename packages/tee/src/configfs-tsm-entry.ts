/**
 * configfs-tsm report entries: making one (with the errors that say why configfs-tsm is not
 * there), reading its `provider`, and always removing it again. Used by each report request, by
 * detection's probe, and by the vTPM's refusal to open in an SEV-SNP or TDX guest.
 *
 * @module
 */
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { isInitguardError, LocalIoError, UnavailableError } from '@initguard/core'
import { errnoOf, readOptionalTeeFile, teeFileError } from './tee-files.ts'
import type { TeePlatformOps } from './tee-platform-ops.ts'

/** Where the kernel's configfs-tsm report entries are made. */
export const DEFAULT_CONFIGFS_TSM_DIR = '/sys/kernel/config/tsm/report'

/** The `provider` each TEE's driver registers. */
export const TSM_PROVIDERS = { snp: 'sev_guest', tdx: 'tdx_guest' } as const

/** Make a new entry (`ops.create`), with the errors that say why configfs-tsm is not there. */
async function createEntry(ops: TeePlatformOps, dir: string, entry: string): Promise<void> {
  try {
    await ops.create(entry)
  } catch (error) {
    if (isInitguardError(error)) throw error
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

/**
 * Run `work` inside a fresh entry and always remove the entry afterwards, also when `work` fails.
 * A failure to remove it is never swallowed (a leaked entry is a fault the operator must see):
 * after a successful `work` it is thrown; after a failed one it is thrown with the work's error
 * in its message and as its `cause`.
 */
export async function withTsmEntry<T>(
  ops: TeePlatformOps,
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

/** The codes that mean "configfs-tsm is not here", as opposed to "it is here but failed". */
const TSM_ABSENT = new Set([
  'ERR_TEE_TSM_UNAVAILABLE',
  'ERR_TEE_TSM_NO_PROVIDER',
  'ERR_TEE_TSM_NOT_CONFIGFS',
])

/**
 * Probe configfs-tsm: the provider's name, or what was found instead (any other failure throws).
 * Also used by `openVtpm` to refuse a vTPM binding where the guest offers SEV-SNP or TDX.
 */
export async function probeTsm(
  dir: string,
  ops: TeePlatformOps,
): Promise<{ provider: string } | { absent: string }> {
  try {
    return { provider: await withTsmEntry(ops, dir, (entry) => readProvider(entry, dir)) }
  } catch (error) {
    if (isInitguardError(error) && TSM_ABSENT.has(error.code)) return { absent: error.message }
    throw error
  }
}

/** The TEE a configfs-tsm provider name is, if Initguard supports it. */
export function teeOfProvider(provider: string): 'snp' | 'tdx' | undefined {
  if (provider === TSM_PROVIDERS.snp) return 'snp'
  if (provider === TSM_PROVIDERS.tdx) return 'tdx'
  return undefined
}

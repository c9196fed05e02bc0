/**
 * The vTPM a guest binds its init-data to (`--tee vtpm`): chosen only explicitly, never detected.
 *
 * A vTPM binding (PCR 8, `vtpm-binding.ts`) is only as good as the vTPM: on an Azure confidential
 * VM it lives in the paravisor, inside the TEE; a vTPM a plain QEMU guest is given (`-tpmdev
 * emulator`, swtpm on the host) belongs to the host, which can make PCR 8 say anything. And it
 * binds the document the guest chose to extend, where SEV-SNP's HOST_DATA and TDX's MRCONFIGID
 * are fixed by the launch. So:
 *
 * - hardware detection (`openHardwareTee({ tee: 'auto' })`) never picks it;
 * - opening it is refused where configfs-tsm offers SEV-SNP or TDX (`ERR_TEE_VTPM_DOWNGRADE`):
 *   there the launch-time field is the binding to check (`--tee snp` / `--tee tdx`), and a
 *   misconfigured agent must not silently fall back to the weaker one.
 *
 * It is not a `GuestTee`: it produces no evidence a KBS verifies (TPM quotes are not
 * implemented, and Initguard's KBS does not verify vTPM evidence), so the agent can bind with it
 * but not attest.
 *
 * @module
 */
import { UsageError } from '@initguard/core'
import {
  DEFAULT_CONFIGFS_TSM_DIR,
  TSM_PROVIDERS,
  probeTsm,
  teeOfProvider,
} from './configfs-tsm-entry.ts'
import { openTpm2Client } from './tpm2-client.ts'
import { TEE_PLATFORM_OPS, type TeePlatformOps } from './tee-platform-ops.ts'
import { DEFAULT_TPM_PATH } from './tpm2-transport.ts'
import { INITDATA_PCR, bindInitdataPcr8, type VtpmBinding } from './vtpm-binding.ts'

/** Options of {@link openVtpm}. */
export interface OpenVtpmOptions {
  /** The TPM: a character device or a swtpm Unix socket; default `/dev/tpmrm0`. */
  readonly tpmPath?: string
  /** Time limit for one TPM command, in milliseconds; default 10 000. */
  readonly timeoutMs?: number
  /** Where configfs-tsm is looked for (to refuse a downgrade); default `/sys/kernel/config/tsm/report`. */
  readonly configfsTsmDir?: string
}

/** An open vTPM (see the module comment). */
export interface Vtpm {
  readonly tee: 'vtpm'
  /** For messages: `vTPM /dev/tpmrm0`. */
  readonly description: string
  /**
   * Bind a 32-byte init-data digest to PCR 8 (`bindInitdataPcr8`: idempotent within a boot,
   * refuses a PCR 8 holding another binding).
   */
  bindInitdata(digest: Uint8Array, signal?: AbortSignal): Promise<VtpmBinding>
  /** PCR 8 of the SHA-256 bank as it is now. */
  readPcr8(signal?: AbortSignal): Promise<Uint8Array>
  /** Release the TPM. Idempotent. */
  close(): Promise<void>
}

/**
 * Open the vTPM, after checking the guest offers no SEV-SNP or TDX through configfs-tsm.
 *
 * @throws {@link UsageError} `ERR_TEE_VTPM_DOWNGRADE`; every error of the configfs-tsm probe
 *   (a present configfs-tsm that cannot be probed: `ERR_TEE_PERMISSION`, `ERR_TEE_FILE_IO`) and of
 *   `openTpm2Transport` (`ERR_TPM_UNAVAILABLE`, `ERR_TPM_NOT_A_TPM`, `ERR_TPM_PERMISSION`, …).
 */
export function openVtpm(options: OpenVtpmOptions = {}): Promise<Vtpm> {
  return openVtpmWith(options, TEE_PLATFORM_OPS)
}

/**
 * {@link openVtpm} with the platform operations passed in.
 *
 * @internal for tests (the configfs-tsm stand-in): production code calls `openVtpm`.
 */
export async function openVtpmWith(options: OpenVtpmOptions, ops: TeePlatformOps): Promise<Vtpm> {
  const tsmDir = options.configfsTsmDir ?? DEFAULT_CONFIGFS_TSM_DIR
  const probe = await probeTsm(tsmDir, ops)
  const offered = 'provider' in probe ? teeOfProvider(probe.provider) : undefined
  if (offered !== undefined) {
    throw new UsageError(
      'ERR_TEE_VTPM_DOWNGRADE',
      `--tee vtpm was asked for, but this guest is ${offered === 'snp' ? 'an SEV-SNP' : 'a TDX'} guest (configfs-tsm at ${tsmDir} has provider ${TSM_PROVIDERS[offered]}): its init-data binding is ${offered === 'snp' ? 'HOST_DATA' : 'MRCONFIGID'}, fixed at launch, not a vTPM PCR 8 the guest extends itself`,
      {
        details: { tee: 'vtpm', offered, provider: TSM_PROVIDERS[offered], path: tsmDir },
        hint: `pass --tee ${offered} (or --tee auto)`,
      },
    )
  }
  const client = await openTpm2Client(options.tpmPath ?? DEFAULT_TPM_PATH, {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
  })
  return {
    tee: 'vtpm',
    description: `vTPM ${client.description}`,
    bindInitdata: (digest, signal) => bindInitdataPcr8(client, digest, signal),
    readPcr8: (signal) => client.readPcrSha256(INITDATA_PCR, signal),
    close: () => client.close(),
  }
}

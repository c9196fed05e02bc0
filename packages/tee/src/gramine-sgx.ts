/**
 * SGX evidence through Gramine's `/dev/attestation` pseudo-files (guest-side.md §2.2, the
 * attestation-agent's Gramine path):
 *
 * ```text
 * read   attestation_type     must be "dcap" (the manifest's sgx.remote_attestation = "dcap")
 * read   my_target_info       this enclave's TARGETINFO (512 bytes)
 * write  target_info          that TARGETINFO: the local report is made for this enclave
 * write  user_report_data     REPORT_DATA, 64 bytes
 * read   report               the enclave's local SGX REPORT over it (EREPORT, 432 bytes)
 * read   quote                a DCAP quote (v3) over that REPORT_DATA
 * ```
 *
 * The quote is made outside the enclave (AESM and the quoting enclave, untrusted), so its CONFIGID
 * is only taken after it equals the local report's (gramine-sgx-evidence.ts).
 *
 * The files belong to the enclave process and hold one request at a time, so requests on one
 * {@link GuestTee} are serialised (two interleaved requests would read each other's quote; the
 * REPORT_DATA read-back would refuse it, but serialising avoids the failure).
 *
 * @module
 */
import { join } from 'node:path'
import { UnavailableError } from '@initguard/core'
import type { GuestReport, GuestTee } from './guest-tee.ts'
import { sgxGuestReport } from './gramine-sgx-evidence.ts'
import {
  padReportData,
  readOptionalTeeFile,
  readTeeFile,
  throwIfAborted,
  writeTeeFile,
} from './tee-files.ts'

/** Where Gramine mounts its attestation pseudo-files. */
export const DEFAULT_GRAMINE_ATTESTATION_DIR = '/dev/attestation'

/**
 * Gramine's `attestation_type` in `dir`, without a trailing newline, or `undefined` when the
 * file does not exist (not inside Gramine).
 */
export async function readGramineAttestationType(dir: string): Promise<string | undefined> {
  const bytes = await readOptionalTeeFile(join(dir, 'attestation_type'), 'Gramine attestation type')
  if (bytes === undefined) return undefined
  return new TextDecoder().decode(bytes).replace(/\n$/, '')
}

/**
 * Open Gramine's SGX DCAP attestation in `dir` (default {@link DEFAULT_GRAMINE_ATTESTATION_DIR}).
 *
 * @throws {@link UnavailableError} `ERR_TEE_SGX_UNAVAILABLE` when there is no `attestation_type`
 *   (not a Gramine enclave), `ERR_TEE_SGX_ATTESTATION_TYPE` when it is not `dcap`.
 */
export async function openGramineSgx(
  dir: string = DEFAULT_GRAMINE_ATTESTATION_DIR,
): Promise<GuestTee> {
  const type = await readGramineAttestationType(dir)
  if (type === undefined) {
    throw new UnavailableError(
      'ERR_TEE_SGX_UNAVAILABLE',
      `there is no Gramine attestation interface at ${dir} (no attestation_type)`,
      {
        details: { path: dir },
        hint: 'run the agent inside a Gramine SGX enclave with sgx.remote_attestation = "dcap", or pass another --tee',
      },
    )
  }
  if (type !== 'dcap') {
    throw new UnavailableError(
      'ERR_TEE_SGX_ATTESTATION_TYPE',
      `Gramine's attestation type at ${dir} is ${JSON.stringify(type)}; only DCAP quotes can be verified`,
      {
        details: { path: dir, found: type, expected: 'dcap' },
        hint: 'set sgx.remote_attestation = "dcap" in the Gramine manifest',
      },
    )
  }
  const description = `Gramine SGX DCAP at ${dir}`
  let queue: Promise<unknown> = Promise.resolve()

  const request = async (requested: Uint8Array, signal?: AbortSignal): Promise<GuestReport> => {
    throwIfAborted(signal)
    const targetInfo = await readTeeFile(join(dir, 'my_target_info'), 'SGX my_target_info')
    await writeTeeFile(join(dir, 'target_info'), targetInfo, 'SGX target_info')
    await writeTeeFile(join(dir, 'user_report_data'), requested, 'user_report_data (REPORT_DATA)')
    const localReport = await readTeeFile(join(dir, 'report'), 'SGX local report')
    const quote = await readTeeFile(join(dir, 'quote'), 'SGX quote')
    if (quote.length === 0) {
      throw new UnavailableError(
        'ERR_TEE_SGX_QUOTE_EMPTY',
        `Gramine returned an empty quote (${dir}/quote)`,
        {
          details: { path: dir },
          hint: 'check that the DCAP quote provider (AESM / PCCS client) is reachable from the enclave',
        },
      )
    }
    return sgxGuestReport(quote, localReport, requested, description)
  }

  return {
    tee: 'sgx',
    simulated: false,
    description,
    async report(reportData: Uint8Array, signal?: AbortSignal): Promise<GuestReport> {
      const requested = padReportData(reportData)
      const result = queue.then(() => request(requested, signal))
      queue = result.catch(() => undefined)
      return result
    },
  }
}

/**
 * File access shared by the hardware TEE interfaces (configfs-tsm, TDX sysfs, Gramine's
 * `/dev/attestation`): reads and writes of kernel attribute files that turn every failure into a
 * coded error naming the file, and the REPORT_DATA padding every TEE applies.
 *
 * Kernel attribute files are read whole with one `readFile` (the kernel produces the value on
 * open/read; a short read never happens for these sizes) and written with one `writeFile` (configfs
 * binary attributes take the whole buffer when the file is closed).
 *
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises'
import { LocalIoError, UnavailableError, type InitguardError } from '@initguard/core'
// Not from `/guest`: that loads the simulator, which a hardware guest never needs.
import { errnoOf, padReportData as padToReportData } from '@initguard/tee-simulator/report-data'

export { errnoOf }

/**
 * `reportData` zero-padded to 64 bytes (the simulator's padding, with this package's code), for
 * hardware and simulated guests alike.
 *
 * @throws {@link UsageError} `ERR_TEE_REPORT_DATA_TOO_LONG` above 64 bytes.
 */
export function padReportData(reportData: Uint8Array): Uint8Array {
  return padToReportData(reportData, 'ERR_TEE_REPORT_DATA_TOO_LONG')
}

/**
 * The error for a failed read or write of a TEE interface file: permission problems are local
 * I/O errors (run as root), anything else the kernel answered with (EIO, EBUSY, EINVAL, …) means
 * the TEE could not do what was asked.
 */
export function teeFileError(
  error: unknown,
  action: 'read' | 'write' | 'create' | 'remove',
  path: string,
  what: string,
): InitguardError {
  const errno = errnoOf(error) ?? 'unknown'
  const details = { path, errno, action }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return new LocalIoError('ERR_TEE_PERMISSION', `cannot ${action} ${path} (${what}): ${errno}`, {
      cause: error,
      details,
      hint: 'the TEE interfaces belong to root: run the agent as root (or with CAP_SYS_ADMIN)',
    })
  }
  return new UnavailableError('ERR_TEE_FILE_IO', `cannot ${action} ${path} (${what}): ${errno}`, {
    cause: error,
    details,
    hint: 'the kernel refused the request; see dmesg for the TEE driver (sev-guest, tdx-guest) or the Gramine log',
  })
}

/** Read a whole TEE interface file; every failure becomes a coded error naming it. */
export async function readTeeFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (error) {
    throw teeFileError(error, 'read', path, what)
  }
}

/** Read a whole TEE interface file, or `undefined` when it does not exist (ENOENT only). */
export async function readOptionalTeeFile(
  path: string,
  what: string,
): Promise<Uint8Array | undefined> {
  try {
    return new Uint8Array(await readFile(path))
  } catch (error) {
    if (errnoOf(error) === 'ENOENT') return undefined
    throw teeFileError(error, 'read', path, what)
  }
}

/** A text attribute without its trailing newline (`sev_guest\n` → `sev_guest`). */
export async function readTeeText(path: string, what: string): Promise<string> {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(await readTeeFile(path, what))
  return text.endsWith('\n') ? text.slice(0, -1) : text
}

/** Write a whole TEE interface file in one write; every failure becomes a coded error naming it. */
export async function writeTeeFile(
  path: string,
  data: Uint8Array | string,
  what: string,
): Promise<void> {
  try {
    await writeFile(path, data)
  } catch (error) {
    throw teeFileError(error, 'write', path, what)
  }
}

/**
 * Throw `ERR_TEE_REPORT_ABORTED` when the caller gave up; checked between steps (a kernel read in
 * progress cannot be interrupted).
 */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) {
    throw new UnavailableError('ERR_TEE_REPORT_ABORTED', 'the report request was aborted', {
      cause: signal.reason,
    })
  }
}

/**
 * How TPM 2.0 commands reach a TPM: the kernel's character device (`/dev/tpmrm0`, the resource
 * manager; `/dev/tpm0` works too for these commands) or a Unix socket that takes raw TPM commands
 * (`swtpm socket --tpm2 --server type=unixio,path=…`, for tests and labs). The path's file type
 * decides which; anything else is refused.
 *
 * - **Character device**: one `write(2)` of the whole command, then one `read(2)` of the whole
 *   response (the kernel hands it over in one piece), into a buffer one byte larger than
 *   {@link TPM2_MAX_RESPONSE_SIZE}, so an oversized answer is seen, not cut. Commands go one at a
 *   time (the kernel refuses a second write before the response is read). A kernel read cannot
 *   be interrupted: when the time limit passes (or the caller aborts) the transport is given up:
 *   every later command is refused, and the device is closed once the read returns.
 * - **Unix socket**: one connection per command; the response is read until the size its header
 *   declares (checked at once: an oversized declaration is refused before it is read), and the
 *   connection closed. A peer that closes early, or sends past the time limit, is refused.
 *
 * The bytes are handed back as received; `tpm2-commands.ts` checks them.
 *
 * @module
 */
import { open, stat } from 'node:fs/promises'
import { connect } from 'node:net'
import {
  InternalError,
  LocalIoError,
  MalformedInputError,
  UnavailableError,
  UsageError,
  concatBytes,
  isInitguardError,
  type InitguardError,
} from '@initguard/core'
import { errnoOf } from './tee-files.ts'
import {
  TPM2_HEADER_SIZE,
  TPM2_MAX_RESPONSE_SIZE,
  declaredResponseSize,
  type Tpm2Command,
} from './tpm2-commands.ts'

/** The kernel's TPM resource manager: what a guest's TPM client opens. */
export const DEFAULT_TPM_PATH = '/dev/tpmrm0'
/** Default time limit for one command (a vTPM answers PCR commands in milliseconds). */
export const DEFAULT_TPM_TIMEOUT_MS = 10_000

/** A channel to one TPM. */
export interface Tpm2Transport {
  /** What and where, for messages: `/dev/tpmrm0`, `swtpm socket /run/tpm.sock`. */
  readonly description: string
  /**
   * Send `command`, resolve with the response bytes as received (checked by the caller).
   *
   * @throws {@link UnavailableError} `ERR_TPM_TIMEOUT`, `ERR_TPM_ABORTED`, `ERR_TPM_IO`,
   *   `ERR_TPM_UNAVAILABLE`, `ERR_TPM_GIVEN_UP`; {@link LocalIoError} `ERR_TPM_PERMISSION`;
   *   {@link MalformedInputError} `ERR_TPM_RESPONSE_TRUNCATED` and the header errors of
   *   `declaredResponseSize` (socket).
   */
  transmit(command: Tpm2Command, signal?: AbortSignal): Promise<Uint8Array>
  /** Release the device (nothing for a socket). Idempotent. */
  close(): Promise<void>
}

/** Options of {@link openTpm2Transport}. */
export interface Tpm2TransportOptions {
  /** Time limit for one command, in milliseconds; default {@link DEFAULT_TPM_TIMEOUT_MS}. */
  readonly timeoutMs?: number
}

/** The error for a failed system call on the TPM's path. */
function tpmIoError(error: unknown, action: string, path: string): InitguardError {
  if (isInitguardError(error)) return error
  const errno = errnoOf(error) ?? 'unknown'
  const details = { path, errno, action }
  if (errno === 'EACCES' || errno === 'EPERM') {
    return new LocalIoError('ERR_TPM_PERMISSION', `cannot ${action} ${path}: ${errno}`, {
      cause: error,
      details,
      hint: 'the TPM device belongs to root and the tss group: run the agent as root or in group tss',
    })
  }
  if (errno === 'ENOENT' || errno === 'ECONNREFUSED' || errno === 'ENODEV' || errno === 'ENXIO') {
    return new UnavailableError('ERR_TPM_UNAVAILABLE', `no TPM at ${path} (${action}: ${errno})`, {
      cause: error,
      details,
      hint: 'on a vTPM platform (an Azure confidential VM, a peer-pod VM) the TPM is /dev/tpmrm0: check that the tpm_crb or tpm_tis driver bound to it (dmesg | grep -i tpm), or pass the path with --tpm',
    })
  }
  return new UnavailableError('ERR_TPM_IO', `cannot ${action} ${path}: ${errno}`, {
    cause: error,
    details,
    hint: 'the kernel refused the request; see dmesg for the TPM driver',
  })
}

function checkTimeout(timeoutMs: number | undefined): number {
  const value = timeoutMs ?? DEFAULT_TPM_TIMEOUT_MS
  if (!Number.isSafeInteger(value) || value < 1 || value > 600_000) {
    throw new UsageError(
      'ERR_TPM_TIMEOUT_INVALID',
      `the TPM time limit ${String(timeoutMs)} ms is not a whole number of milliseconds from 1 to 600000`,
      {
        details: { timeoutMs: String(timeoutMs) },
        hint: `leave it out for ${DEFAULT_TPM_TIMEOUT_MS} ms`,
      },
    )
  }
  return value
}

function timeoutError(command: Tpm2Command, where: string, timeoutMs: number): UnavailableError {
  return new UnavailableError(
    'ERR_TPM_TIMEOUT',
    `the TPM at ${where} did not answer ${command.name} within ${timeoutMs} ms`,
    {
      details: { command: command.name, tpm: where, timeoutMs },
      hint: 'check that the TPM is not wedged (dmesg | grep -i tpm); a swtpm socket must have swtpm running',
    },
  )
}

function abortedError(command: Tpm2Command, where: string, reason: unknown): UnavailableError {
  return new UnavailableError(
    'ERR_TPM_ABORTED',
    `${command.name} to the TPM at ${where} was aborted`,
    { cause: reason, details: { command: command.name, tpm: where } },
  )
}

/**
 * Open the TPM at `path`: a character device, or a Unix socket taking raw TPM commands.
 *
 * @throws {@link UsageError} `ERR_TPM_NOT_A_TPM` (another kind of file), `ERR_TPM_TIMEOUT_INVALID`;
 *   {@link UnavailableError} `ERR_TPM_UNAVAILABLE` (nothing there), `ERR_TPM_IO`;
 *   {@link LocalIoError} `ERR_TPM_PERMISSION`.
 */
export async function openTpm2Transport(
  path: string = DEFAULT_TPM_PATH,
  options: Tpm2TransportOptions = {},
): Promise<Tpm2Transport> {
  const timeoutMs = checkTimeout(options.timeoutMs)
  let kind: string
  try {
    const stats = await stat(path)
    if (stats.isCharacterDevice()) {
      return new DeviceTransport(path, await open(path, 'r+'), timeoutMs)
    }
    if (stats.isSocket()) return new SocketTransport(path, timeoutMs)
    kind = stats.isFile()
      ? 'regular file'
      : stats.isDirectory()
        ? 'directory'
        : 'FIFO or block device'
  } catch (error) {
    throw tpmIoError(error, 'open', path)
  }
  throw new UsageError(
    'ERR_TPM_NOT_A_TPM',
    `${path} is a ${kind}, not a TPM: a TPM is a character device (${DEFAULT_TPM_PATH}) or a Unix socket taking raw TPM commands (swtpm --server type=unixio)`,
    { details: { path, kind }, hint: `point --tpm at ${DEFAULT_TPM_PATH}` },
  )
}

/**
 * What {@link DeviceTransport} needs of an open character device: a `FileHandle`'s `write(2)`,
 * `read(2)` (position `null`: at the current position, as a character device wants) and `close`.
 */
export interface DeviceHandle {
  write(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: null,
  ): Promise<{ readonly bytesWritten: number }>
  read(
    buffer: Uint8Array,
    offset: number,
    length: number,
    position: null,
  ): Promise<{ readonly bytesRead: number }>
  close(): Promise<void>
}

/**
 * The kernel's TPM character device (see the module comment).
 *
 * @internal exported for tests, which hand it a device whose read never returns (no real
 *   character device hangs on demand); production opens it through {@link openTpm2Transport}.
 */
export class DeviceTransport implements Tpm2Transport {
  readonly description: string
  readonly #handle: DeviceHandle
  readonly #timeoutMs: number
  /** Commands go one at a time: each waits for the one before. */
  #queue: Promise<unknown> = Promise.resolve()
  /** Why the transport was given up (a command timed out or was aborted in flight). */
  #givenUp: InitguardError | undefined
  #closed = false

  constructor(path: string, handle: DeviceHandle, timeoutMs: number) {
    this.description = path
    this.#handle = handle
    this.#timeoutMs = timeoutMs
  }

  transmit(command: Tpm2Command, signal?: AbortSignal): Promise<Uint8Array> {
    const run = this.#queue.then(() => this.#exchange(command, signal))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async #exchange(command: Tpm2Command, signal: AbortSignal | undefined): Promise<Uint8Array> {
    if (this.#givenUp !== undefined) {
      throw new UnavailableError(
        'ERR_TPM_GIVEN_UP',
        `the TPM at ${this.description} is no longer used: ${this.#givenUp.message}`,
        { cause: this.#givenUp, details: { tpm: this.description } },
      )
    }
    if (this.#closed) {
      throw new UnavailableError('ERR_TPM_GIVEN_UP', `the TPM at ${this.description} was closed`, {
        details: { tpm: this.description },
      })
    }
    if (signal?.aborted === true) throw abortedError(command, this.description, signal.reason)
    const work = this.#writeRead(command)
    let timer: NodeJS.Timeout | undefined
    let onAbort: (() => void) | undefined
    const stop = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        reject(timeoutError(command, this.description, this.#timeoutMs))
      }, this.#timeoutMs)
      onAbort = () => {
        reject(abortedError(command, this.description, signal?.reason))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
    try {
      return await Promise.race([work, stop])
    } catch (error) {
      if (
        isInitguardError(error) &&
        (error.code === 'ERR_TPM_TIMEOUT' || error.code === 'ERR_TPM_ABORTED')
      ) {
        // The kernel still owns the command: give the device up, close it when the read returns
        // (a failure to close then has nobody left to tell).
        this.#givenUp = error
        const closeLater = (): Promise<void> => this.close().catch(() => undefined)
        void work.then(closeLater, closeLater)
      }
      throw error
    } finally {
      clearTimeout(timer)
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort)
    }
  }

  async #writeRead(command: Tpm2Command): Promise<Uint8Array> {
    try {
      // position null: write(2) and read(2) at the current position, as a character device wants.
      const { bytesWritten } = await this.#handle.write(
        command.bytes,
        0,
        command.bytes.length,
        null,
      )
      if (bytesWritten !== command.bytes.length) {
        throw new UnavailableError(
          'ERR_TPM_IO',
          `the TPM at ${this.description} took ${bytesWritten} of the ${command.bytes.length} bytes of ${command.name}`,
          {
            details: { tpm: this.description, written: bytesWritten, length: command.bytes.length },
          },
        )
      }
      const buffer = new Uint8Array(TPM2_MAX_RESPONSE_SIZE + 1)
      const { bytesRead } = await this.#handle.read(buffer, 0, buffer.length, null)
      return buffer.slice(0, bytesRead)
    } catch (error) {
      throw tpmIoError(error, `${command.name} on`, this.description)
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#handle.close()
  }
}

/** A Unix socket taking raw TPM commands (see the module comment). */
class SocketTransport implements Tpm2Transport {
  readonly description: string
  readonly #path: string
  readonly #timeoutMs: number

  constructor(path: string, timeoutMs: number) {
    this.#path = path
    this.description = `swtpm socket ${path}`
    this.#timeoutMs = timeoutMs
  }

  transmit(command: Tpm2Command, signal?: AbortSignal): Promise<Uint8Array> {
    const where = this.description
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(abortedError(command, where, signal.reason))
        return
      }
      const chunks: Uint8Array[] = []
      let received = 0
      let declared: number | undefined
      const socket = connect({ path: this.#path })
      const cleanUp = (): void => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
        socket.destroy()
      }
      const finish = (error: InitguardError): void => {
        cleanUp()
        reject(error)
      }
      const timer = setTimeout(() => {
        finish(timeoutError(command, where, this.#timeoutMs))
      }, this.#timeoutMs)
      const onAbort = (): void => {
        finish(abortedError(command, where, signal?.reason))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
      socket.once('connect', () => socket.write(command.bytes))
      socket.on('data', (chunk: Buffer) => {
        chunks.push(new Uint8Array(chunk))
        received += chunk.length
        try {
          if (declared === undefined && received >= 6) {
            declared = declaredResponseSize(concatBytes(chunks), command)
          }
        } catch (error) {
          // declaredResponseSize throws only coded errors; anything else is a bug of ours.
          finish(
            isInitguardError(error)
              ? error
              : new InternalError('ERR_TPM_INTERNAL', String(error), { cause: error }),
          )
          return
        }
        // Whatever came past the declared size is handed on too: the parser refuses it.
        // `declared` is at most TPM2_MAX_RESPONSE_SIZE, so nothing larger is ever gathered.
        if (declared !== undefined && received >= declared) {
          cleanUp()
          resolve(concatBytes(chunks))
        }
      })
      socket.once('end', () => {
        finish(
          new MalformedInputError(
            'ERR_TPM_RESPONSE_TRUNCATED',
            `${command.name} response: the TPM at ${where} closed the connection after ${received} bytes${declared === undefined ? `, before a ${TPM2_HEADER_SIZE}-byte header` : ` of the ${declared} its header declares`}`,
            {
              details: { command: command.name, tpm: where, received, declared: declared ?? 0 },
              hint: 'the TPM stopped answering mid-response: check that swtpm is running and that nothing else uses its socket',
            },
          ),
        )
      })
      socket.once('error', (error) => {
        finish(tpmIoError(error, `send ${command.name} to`, this.#path))
      })
    })
  }

  close(): Promise<void> {
    return Promise.resolve()
  }
}

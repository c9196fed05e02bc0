/**
 * A throwaway software TPM for tests: `swtpm socket --tpm2` with its own temporary state directory,
 * its TPM command and control channels on free 127.0.0.1 ports ({@link startSwtpm}) or on Unix
 * sockets in the state directory ({@link startUnixSwtpm}: raw TPM commands, as a guest's TPM
 * client writes them to `/dev/tpmrm0`), and tpm2-tools pointed at it through the swtpm TCTI
 * (`swtpm:host=127.0.0.1,port=N`, `swtpm:path=SOCKET`).
 *
 * Why a real TPM: a PCR holds whatever `TPM2_PCR_Extend` makes of it, so a value we compute
 * ourselves (initdata's PCR 8, `SHA-256(32 zero bytes ‖ digest)`) is only proven by a TPM that
 * extends it. swtpm runs libtpms, the TPM 2.0 implementation QEMU's vTPMs run on (`-tpmdev
 * emulator`), and tpm2-tools issues the same `TPM2_PCR_Extend` that a guest's attester issues on
 * the SHA-256 bank: neither shares a line of code with ours, so they are an oracle, not a mirror.
 *
 * Each call starts a new TPM (about 10 ms): every PCR at its reset value, already started
 * (`--flags not-need-init,startup-clear`: no `TPM2_Init` or `TPM2_Startup` to send), unless the
 * test asks for one that was not started (`started: false`: every command is then answered
 * `TPM_RC_INITIALIZE`, as a real TPM before the firmware's `TPM2_Startup`). A test that
 * needs a PCR from reset starts a fresh one: from locality 0, `TPM2_PCR_Reset` resets only PCRs
 * 16 and 23, not PCR 8. There is no resource manager: a test that loads objects flushes them.
 *
 * Without swtpm or tpm2-tools installed this throws (tests fail, never skip): run
 * `scripts/setup-system.sh`.
 *
 * @module
 */
import { execFile } from 'node:child_process'
import { accessSync, constants, statSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'
import { freePortPair } from './free-port.ts'
import { spawnServer } from './server-process.ts'

const run = promisify(execFile)

/** A PCR bank, and the length of its PCR values in bytes. */
export const PCR_BANK_LENGTHS = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 } as const

/** A PCR bank swtpm allocates by default. */
export type PcrBank = keyof typeof PCR_BANK_LENGTHS

/** What every running throwaway TPM offers, whatever channel its commands arrive on. */
export interface SwtpmProcess {
  /** The swtpm process. */
  readonly pid: number
  /**
   * The value of `TPM2TOOLS_TCTI` (or a TSS's TCTI config): `swtpm:host=127.0.0.1,port=PORT`, or
   * `swtpm:path=SOCKET` for a TPM on a Unix socket.
   */
  readonly tcti: string
  /** The temporary state directory, removed on `stop()`. */
  readonly stateDir: string
  /** Run `tpm2_TOOL ARGS` against this TPM; resolves with its standard output. */
  tpm2(tool: string, args: readonly string[]): Promise<string>
  /** `tpm2_pcrextend INDEX:BANK=HEX`: extend one PCR of one bank with `digest`. */
  extendPcr(index: number, bank: PcrBank, digest: Uint8Array): Promise<void>
  /** `tpm2_pcrread BANK:INDEX -o FILE`: the PCR's value, as the TPM's raw bytes. */
  readPcr(index: number, bank: PcrBank): Promise<Uint8Array>
  /**
   * A reboot of the TPM's machine: `CMD_INIT` on the control channel (a TPM reset), then
   * `TPM2_Startup(CLEAR)`. Every PCR is back at its reset value, and a PCR bank allocation made
   * with `tpm2_pcrallocate` takes effect.
   */
  reboot(): Promise<void>
  /** Stop the process (SIGTERM, then SIGKILL) and remove the state directory. Idempotent. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

/** A running throwaway TPM on 127.0.0.1. */
export interface Swtpm extends SwtpmProcess {
  /** The TPM command channel on 127.0.0.1. */
  readonly port: number
  /** The control channel on 127.0.0.1 (power, locality, shutdown): always `port + 1`. */
  readonly ctrlPort: number
}

/**
 * A running throwaway TPM on a Unix socket (`--server type=unixio`): raw TPM commands in, raw
 * responses out, one connection at a time, as a guest's TPM client sends them to a character
 * device.
 */
export interface UnixSwtpm extends SwtpmProcess {
  /** The TPM command socket, in the state directory. */
  readonly socketPath: string
  /** The control socket: always `socketPath + '.ctrl'`, where the swtpm TCTI looks for it. */
  readonly ctrlPath: string
}

/** Options for {@link startUnixSwtpm}. */
export interface UnixSwtpmOptions {
  /**
   * Whether the TPM is started (`TPM2_Startup(CLEAR)` done); default true. A TPM that is not
   * answers every command `TPM_RC_INITIALIZE`.
   */
  readonly started?: boolean
}

/**
 * Start a fresh TPM and wait until it answers a TPM command. Call `stop()` when done.
 *
 * @throws Error naming `scripts/setup-system.sh` when swtpm is not installed, or with swtpm's
 *   output when it does not start or answer.
 */
export async function startSwtpm(): Promise<Swtpm> {
  const binary = commandOnPath('swtpm', 'swtpm')
  // A free port can be taken between the probe and the bind: try a few, each in a new directory.
  for (let attempt = 1; ; attempt++) {
    try {
      // The swtpm TCTI takes one port and finds the control channel at the next one.
      const [port, ctrlPort] = await freePortPair()
      const tpm = await startOnce(binary, true, () => ({
        server: `type=tcp,port=${port},bindaddr=127.0.0.1`,
        ctrl: `type=tcp,port=${ctrlPort},bindaddr=127.0.0.1`,
        at: { port },
        ctrlAt: { port: ctrlPort },
        tcti: `swtpm:host=127.0.0.1,port=${port}`,
      }))
      return { ...tpm, port, ctrlPort }
    } catch (error) {
      if (attempt >= 3) throw error
    }
  }
}

/**
 * Start a fresh TPM listening on a Unix socket in its state directory (and its control channel
 * beside it, where the swtpm TCTI looks for it), and wait until it answers a TPM command. Call
 * `stop()` when done.
 *
 * @throws as {@link startSwtpm}.
 */
export async function startUnixSwtpm(options: UnixSwtpmOptions = {}): Promise<UnixSwtpm> {
  const binary = commandOnPath('swtpm', 'swtpm')
  let socketPath = ''
  const tpm = await startOnce(binary, options.started ?? true, (stateDir) => {
    socketPath = join(stateDir, 'tpm.sock')
    return {
      server: `type=unixio,path=${socketPath}`,
      ctrl: `type=unixio,path=${socketPath}.ctrl`,
      at: { path: socketPath },
      ctrlAt: { path: `${socketPath}.ctrl` },
      tcti: `swtpm:path=${socketPath}`,
    }
  })
  return { ...tpm, socketPath, ctrlPath: `${socketPath}.ctrl` }
}

/** Where a channel of a TPM is: a TCP port on 127.0.0.1, or a Unix socket. */
type Endpoint = { readonly port: number } | { readonly path: string }

/** A TPM's two channels: swtpm's `--server` and `--ctrl` values, and where clients reach them. */
interface Channels {
  readonly server: string
  readonly ctrl: string
  readonly at: Endpoint
  readonly ctrlAt: Endpoint
  readonly tcti: string
}

/**
 * Start swtpm once, on the channels `channelsIn` names for its new state directory, and wait
 * until the command channel answers (`started`: as a started TPM, or as one that is not).
 */
async function startOnce(
  binary: string,
  started: boolean,
  channelsIn: (stateDir: string) => Channels,
): Promise<SwtpmProcess> {
  const stateDir = await mkdtemp(join(tmpdir(), 'initguard-swtpm-'))
  const channels = channelsIn(stateDir)
  const server = spawnServer(binary, [
    'socket',
    '--tpm2',
    '--tpmstate',
    `dir=${stateDir}`,
    '--server',
    channels.server,
    '--ctrl',
    channels.ctrl,
    '--flags',
    started ? 'not-need-init,startup-clear' : 'not-need-init',
  ])
  const { child, alive } = server
  let stopped = false
  const stop = async (): Promise<void> => {
    if (stopped) return
    stopped = true
    try {
      await server.stop()
    } finally {
      await rm(stateDir, { recursive: true, force: true })
    }
  }
  let ready = false
  for (let i = 0; i < 200 && alive(); i++) {
    if ((await answersGetRandom(channels.at, started)) && (await controlAnswers(channels.ctrlAt))) {
      ready = true
      break
    }
    await new Promise((r) => setTimeout(r, 25))
  }
  if (!ready || child.pid === undefined) {
    await stop()
    throw new Error(
      `swtpm did not start on ${channels.server} (ctrl ${channels.ctrl}): ${server.why()}`,
    )
  }
  const { tcti } = channels
  const tpm2 = async (tool: string, args: readonly string[]): Promise<string> => {
    const file = commandOnPath(`tpm2_${tool}`, 'tpm2-tools')
    try {
      const result = await run(file, [...args], {
        env: { ...process.env, TPM2TOOLS_TCTI: tcti },
        timeout: 30_000,
        encoding: 'utf8',
      })
      return result.stdout
    } catch (error) {
      const stderr = (error as { stderr?: unknown }).stderr
      const text = typeof stderr === 'string' ? stderr.trim() : ''
      const hint = /could not load tcti/i.test(text)
        ? ' (tpm2-tools reach swtpm through the swtpm TCTI: is Debian’s libtss2-tcti-swtpm0 installed (scripts/setup-system.sh), and is this swtpm still running?)'
        : ''
      throw new Error(`tpm2_${tool} ${args.join(' ')} failed: ${text}${hint}`, { cause: error })
    }
  }
  return {
    pid: child.pid,
    tcti,
    stateDir,
    tpm2,
    async reboot() {
      // CMD_INIT with no flags: a 4-byte result of 0.
      const reset = await exchange(
        channels.ctrlAt,
        Buffer.from('0000000200000000', 'hex'),
        4,
        (a) => a.readUInt32BE(0) === 0,
      )
      // TPM2_Startup(TPM_SU_CLEAR): tag, size 12, TPM_CC_Startup, TPM_SU_CLEAR.
      const startup = await exchange(
        channels.at,
        Buffer.from('80010000000c000001440000', 'hex'),
        10,
        (a) => a.readUInt32BE(6) === 0,
      )
      if (!reset || !startup) {
        throw new Error(
          `swtpm did not reboot (reset ${String(reset)}, startup ${String(startup)}): ${server.why()}`,
        )
      }
    },
    async extendPcr(index, bank, digest) {
      await tpm2('pcrextend', [`${pcrIndex(index)}:${bank}=${Buffer.from(digest).toString('hex')}`])
    },
    async readPcr(index, bank) {
      const file = join(stateDir, `pcr-${bank}-${index}.bin`)
      await tpm2('pcrread', [`${bank}:${pcrIndex(index)}`, '-o', file])
      const value = new Uint8Array(await readFile(file))
      await rm(file, { force: true })
      if (value.length !== PCR_BANK_LENGTHS[bank]) {
        throw new Error(
          `tpm2_pcrread ${bank}:${index} wrote ${value.length} bytes, not ${PCR_BANK_LENGTHS[bank]}: is the ${bank} bank allocated?`,
        )
      }
      return value
    },
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** A PCR index as tpm2-tools takes it, refusing anything but 0..23 (the PC Client PCRs). */
function pcrIndex(index: number): string {
  if (!Number.isInteger(index) || index < 0 || index > 23) {
    throw new Error(`PCR ${String(index)} is not a PC Client PCR (0..23)`)
  }
  return String(index)
}

/**
 * The full path of `command` on PATH: the first executable file of that name, as `execvp` finds
 * it. A file of that name that cannot be run (no execute permission, a directory) is passed over,
 * and named in the error when no runnable one follows: spawning it would fail with EACCES only
 * once a test waited for the server.
 *
 * @throws Error naming `scripts/setup-system.sh` and the Debian package when it is not there.
 */
export function commandOnPath(
  command: string,
  debianPackage: string,
  searchPath: string = process.env['PATH'] ?? '',
): string {
  const notRunnable: string[] = []
  for (const dir of searchPath.split(delimiter)) {
    const candidate = join(dir, command)
    if (dir === '') continue
    const kind = fileKind(candidate)
    if (kind === 'executable') return candidate
    if (kind === 'other') notRunnable.push(candidate)
  }
  const setup = `run scripts/setup-system.sh (it installs Debian’s ${debianPackage} package)`
  if (notRunnable.length > 0) {
    throw new Error(
      `${command} on PATH is not an executable file (${notRunnable.join(', ')}): ${setup}, or take that file off PATH`,
    )
  }
  throw new Error(`${command} is not installed (not on PATH): ${setup}`)
}

/** Whether `path` is an executable file, something else that exists, or absent. */
function fileKind(path: string): 'executable' | 'other' | 'absent' {
  try {
    if (!statSync(path).isFile()) return 'other'
  } catch {
    return 'absent'
  }
  try {
    accessSync(path, constants.X_OK)
    return 'executable'
  } catch {
    return 'other'
  }
}

/**
 * `CMD_GET_CAPABILITY` on the control channel (swtpm's ioctl protocol over TCP: a 4-byte command,
 * answered by a 4-byte result and the capability flags): true once it answers with result 0.
 */
function controlAnswers(at: Endpoint): Promise<boolean> {
  return exchange(at, Buffer.from('00000001', 'hex'), 8, (answer) => answer.readUInt32BE(0) === 0)
}

/** `TPM_RC_INITIALIZE`: what a TPM answers before `TPM2_Startup`. */
const TPM_RC_INITIALIZE = 0x100

/**
 * `TPM2_GetRandom(8)`, raw, on the command channel (swtpm's servers take TPM commands as they
 * are): true once the TPM answers with `TPM_RC_SUCCESS`, which also means it was started (before
 * `TPM2_Startup` it answers `TPM_RC_INITIALIZE`, which is what a TPM asked not to start must
 * answer).
 */
function answersGetRandom(at: Endpoint, started: boolean): Promise<boolean> {
  // tag TPM_ST_NO_SESSIONS, size 12, TPM_CC_GetRandom, bytesRequested 8
  const command = Buffer.from('80010000000c0000017b0008', 'hex')
  // A response header: tag, size, response code.
  return exchange(
    at,
    command,
    10,
    (answer) =>
      answer.readUInt16BE(0) === 0x8001 &&
      answer.readUInt32BE(6) === (started ? 0 : TPM_RC_INITIALIZE),
  )
}

/** Send `request`, wait for `length` bytes of answer (1 s at most), and judge them. */
function exchange(
  at: Endpoint,
  request: Buffer,
  length: number,
  judge: (answer: Buffer) => boolean,
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect('port' in at ? { host: '127.0.0.1', port: at.port } : { path: at.path })
    let answer = Buffer.alloc(0)
    const done = (ok: boolean): void => {
      socket.destroy()
      resolve(ok)
    }
    socket.setTimeout(1000, () => {
      done(false)
    })
    socket.once('error', () => {
      done(false)
    })
    socket.once('connect', () => socket.write(request))
    socket.on('data', (chunk: Buffer) => {
      answer = Buffer.concat([answer, chunk])
      if (answer.length >= length) done(judge(answer))
    })
    socket.once('end', () => {
      done(false)
    })
  })
}

/**
 * Tests' side of the stand-in kernel (`tsm-stand-in-process-test-support.ts`): starts it as a
 * child process, and hands out the {@link TeePlatformOps} that make a stand-in tree behave like
 * configfs where an ordinary directory cannot:
 *
 * - `create`: the real `mkdir`, then the stand-in fills the entry before `create` returns (on
 *   configfs the attributes exist the moment `mkdir` returns; a process watching an ordinary
 *   directory would always lose that race against the agent's first read);
 * - `remove`: the stand-in deletes the attribute files (and releases an unanswered `outblob`),
 *   then the real `rmdir` (configfs's `rmdir` removes an entry with its attributes; an ordinary
 *   `rmdir` of a non-empty directory fails).
 *
 * - `checkSysfs`: nothing. The stand-in's TDX measurements directory is an ordinary directory;
 *   this skips the sysfs check, as `create` skips the configfs check of the production `create`.
 *
 * Every read and write of an attribute goes through the implementation's own file I/O to real
 * files the stand-in process answers; only these operations are swapped, and only through the
 * internal `openConfigfsTsmWith` and `detectHardwareTee`, which take them as an argument (the
 * package's public functions always use the production operations and their file-system checks).
 *
 * @module
 */
import { fork, type ChildProcess } from 'node:child_process'
import { mkdir, mkdtemp, rm, rmdir, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll } from 'vitest'
import type { SimulatorPublicMaterial } from '@initguard/tee-simulator'
import type { TeePlatformOps } from './tee-platform-ops.ts'

/** HOST_DATA of every stand-in SNP report. */
export const STAND_IN_HOST_DATA: Uint8Array = Uint8Array.from({ length: 32 }, (_, i) => 0xa0 + i)
/** MRCONFIGID of every stand-in TDX quote. */
export const STAND_IN_MR_CONFIG_ID: Uint8Array = Uint8Array.from({ length: 48 }, (_, i) => 0x30 + i)
/** CONFIGID of every stand-in SGX quote. */
export const STAND_IN_CONFIG_ID: Uint8Array = Uint8Array.from({ length: 64 }, (_, i) => 0xc0 ^ i)

/** How the stand-in answers the entries it fills (see the process module). */
export interface TsmScenario {
  readonly provider: string
  readonly privlevelFloor?: number
  readonly concurrentWriter?: boolean
  readonly otherReportData?: boolean
  readonly emptyOutblob?: boolean
  readonly noCerts?: boolean
  /** Answer with a report as this provider would make it (default: `provider`'s own format). */
  readonly outblobFormat?: string
  /** The VMPL the SNP report claims (default: the one written to `privlevel`). */
  readonly reportVmpl?: number
}

/** How the stand-in Gramine answers (see the process module). */
export interface GramineScenario {
  readonly attestationType: string
  /** The quote carries another CONFIGID than the enclave's own report (a forged quote). */
  readonly forgedConfigId?: boolean
  /**
   * The quote is another enclave's (its own MRENCLAVE, DEBUG set) with this enclave's CONFIGID and
   * the REPORT_DATA asked for: a genuine quote the host had an enclave of its own make.
   */
  readonly foreignEnclave?: boolean
}

/** What the parent asks the stand-in to do. */
export type StandInCommand =
  | { readonly type: 'populate'; readonly path: string; readonly scenario: TsmScenario }
  | { readonly type: 'remove'; readonly path: string }
  | { readonly type: 'gramine'; readonly dir: string; readonly scenario: GramineScenario }

/** Parent → stand-in: a command and the id its reply carries. */
export type StandInRequest = StandInCommand & { readonly id: number }

/** Stand-in → parent. */
export type StandInReply =
  | {
      readonly type: 'ready'
      /** The CRL travels as base64: JSON IPC has no bytes. */
      readonly trust: Omit<SimulatorPublicMaterial, 'amdCrl'> & { readonly amdCrl: string }
    }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'failed'; readonly id: number; readonly message: string }

/** A running stand-in kernel. */
export interface StandIn {
  /** The public trust material of the PKI its reports are signed under. */
  readonly trust: SimulatorPublicMaterial
  /** Entry operations for a stand-in tree answered with `scenario`; records what was made and removed. */
  entryOps(scenario: TsmScenario): TeePlatformOps & {
    readonly created: string[]
    readonly removed: string[]
  }
  /** Serve a stand-in Gramine `/dev/attestation` in `dir`. */
  gramine(dir: string, scenario: GramineScenario): Promise<void>
  stop(): void
}

const PROCESS = fileURLToPath(new URL('./tsm-stand-in-process-test-support.ts', import.meta.url))

/** Start the stand-in kernel process and wait until its PKI is ready. */
export async function startStandIn(): Promise<StandIn> {
  const child: ChildProcess = fork(PROCESS, [], {
    execArgv: ['--conditions=@initguard/source', '--import', 'tsx'],
    env: { ...process.env, UV_THREADPOOL_SIZE: '32' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  })
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>()
  let nextId = 0
  const trust = await new Promise<SimulatorPublicMaterial>((resolve, reject) => {
    child.on('message', (reply: StandInReply) => {
      if (reply.type === 'ready') {
        resolve({
          ...reply.trust,
          amdCrl: new Uint8Array(Buffer.from(reply.trust.amdCrl, 'base64')),
        })
        return
      }
      const waiter = pending.get(reply.id)
      pending.delete(reply.id)
      if (reply.type === 'done') waiter?.resolve()
      else waiter?.reject(new Error(`stand-in: ${reply.message}`))
    })
    child.on('exit', (code) => {
      const exited = new Error(`the stand-in process exited (${String(code)})`)
      reject(exited)
      for (const waiter of pending.values()) waiter.reject(exited)
      pending.clear()
    })
  })
  const ask = (request: StandInCommand): Promise<void> =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ ...request, id })
    })
  return {
    trust,
    entryOps(scenario) {
      const created: string[] = []
      const removed: string[] = []
      return {
        created,
        removed,
        async create(path) {
          await mkdir(path)
          created.push(path)
          await ask({ type: 'populate', path, scenario })
        },
        async remove(path) {
          await ask({ type: 'remove', path })
          await rmdir(path)
          removed.push(path)
        },
        // The stand-in's measurements directory is an ordinary one: no sysfs check (see above).
        checkSysfs: () => Promise.resolve(),
      }
    },
    gramine: (dir, scenario) => ask({ type: 'gramine', dir, scenario }),
    stop() {
      child.kill('SIGKILL')
    },
  }
}

/** A stand-in kernel for one test file, and fresh stand-in report directories under a temp root. */
export interface StandInTrees {
  readonly standIn: StandIn
  /** A fresh path under the temp root (nothing made there). */
  path(name: string): string
  /** A fresh stand-in report directory answered with `scenario`, and its entry operations. */
  tree(scenario: TsmScenario): Promise<{ dir: string; ops: ReturnType<StandIn['entryOps']> }>
  /** A fresh TDX measurements directory whose `mrconfigid` holds `value`. */
  measurements(value: Uint8Array | string): Promise<string>
}

/** Start a stand-in kernel before the file's tests and stop it (and clean up) after them. */
export function useStandInTrees(): StandInTrees {
  let standIn: StandIn | undefined
  let root = ''
  let count = 0
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'initguard-tsm-'))
    standIn = await startStandIn()
  })
  afterAll(async () => {
    standIn?.stop()
    await rm(root, { recursive: true, force: true })
  })
  const started = (): StandIn => {
    if (standIn === undefined) throw new Error('the stand-in is not started yet')
    return standIn
  }
  const path = (name: string) => join(root, `${name}-${count++}`)
  return {
    get standIn() {
      return started()
    },
    path,
    async tree(scenario) {
      const dir = path('report')
      await mkdir(dir)
      return { dir, ops: started().entryOps(scenario) }
    },
    async measurements(value) {
      const dir = path('measurements')
      await mkdir(dir)
      await writeFile(join(dir, 'mrconfigid'), value)
      return dir
    },
  }
}

/**
 * Open-loop latency measured from a process of its own (`guest-fleet-process.ts`), as guests are
 * other machines: the guests run with a small heap, so that what the benchmark process holds does
 * not pause them. Measured here, the benchmark process's major collections (9–15 ms each, every
 * few seconds, over its ~30 MB live heap) lined up with the largest latencies of the open loop
 * when the guests ran inside it, and would have been counted as the KBS's.
 *
 * A fleet stays up between open loops, warm, so that a benchmark can cut one setup's open loop
 * into windows taken in turns with other setups' (see `kbs-replicas.bench.ts`).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { Readable, Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'

const GUEST_PROCESS = fileURLToPath(new URL('./guest-fleet-process.ts', import.meta.url))

/** What the guests of a fleet need. */
export interface GuestFleetOptions {
  /** The replicas' URLs; the guests are spread over them round-robin. */
  readonly urls: readonly string[]
  /** The KBS's certificate (every replica's), pinned. */
  readonly certPem: string
  /** The simulator's directory (`loadSimulator`). */
  readonly simulatorDir: string
  /** How many guests (kept-alive connections). */
  readonly clients: number
}

/** One open loop: handshakes started per second, for how long. */
export interface OpenLoopCommand {
  readonly rate: number
  readonly seconds: number
}

/** A warm fleet of guests in its own process. */
export interface GuestFleet {
  /** Every handshake's latency in ms, sorted, from one open loop. */
  openLoop(command: OpenLoopCommand): Promise<number[]>
  /** Ends the process; resolves once it has exited. */
  close(): Promise<void>
}

/**
 * The benchmark runs TypeScript through tsx with the workspace's source condition; the guests'
 * process needs both again (and none of this process's other flags).
 */
function loaderArguments(execArgv: readonly string[]): string[] {
  const kept: string[] = []
  for (let i = 0; i < execArgv.length; i++) {
    const flag = execArgv[i] ?? ''
    if (flag.startsWith('--conditions=') || flag.startsWith('--import=')) kept.push(flag)
    else if (flag === '--import' && execArgv[i + 1] !== undefined)
      kept.push(flag, execArgv[++i] ?? '')
  }
  return kept
}

/** Start a fleet; resolves once its guests are warm (connections open, code optimized). */
export async function startGuestFleet(options: GuestFleetOptions): Promise<GuestFleet> {
  const child: ChildProcessByStdio<Writable, Readable, Readable> = spawn(
    process.execPath,
    [...loaderArguments(process.execArgv), GUEST_PROCESS, JSON.stringify(options)],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  )
  let err = ''
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  const failed = exited.then((code) => {
    throw new Error(`the guests' process exited (${String(code)}): ${err.slice(-2000)}`)
  })
  // Surfaced by whichever call is waiting; never an unhandled rejection of its own.
  failed.catch(() => undefined)
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const nextLine = async (): Promise<string> => {
    const next = await Promise.race([lines.next(), failed])
    if (next.done === true) return failed
    return next.value
  }
  const ready = await nextLine()
  if (ready !== 'ready') throw new Error(`the guests' process said ${ready.slice(0, 200)}`)
  return {
    async openLoop(command) {
      child.stdin.write(`${JSON.stringify(command)}\n`)
      return JSON.parse(await nextLine()) as number[]
    },
    async close() {
      child.stdin.end()
      const code = await exited
      if (code !== 0) throw new Error(`the guests' process exited (${String(code)}): ${err}`)
    },
  }
}

/** Every handshake's latency in ms, sorted, from one open loop in a fleet of its own. */
export async function openLoopInGuestProcess(
  options: GuestFleetOptions & OpenLoopCommand,
): Promise<number[]> {
  const fleet = await startGuestFleet(options)
  try {
    return await fleet.openLoop({ rate: options.rate, seconds: options.seconds })
  } finally {
    await fleet.close()
  }
}

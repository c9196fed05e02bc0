/**
 * Open-loop latency measured from a process of its own (`guest-fleet-process.ts`), as guests are
 * other machines: the guests run with a small heap, so that what the benchmark process holds does
 * not pause them. Measured here, the benchmark process's major collections (9–15 ms each, every
 * few seconds, over its ~30 MB live heap) lined up with the largest latencies of the open loop
 * when the guests ran inside it, and would have been counted as the KBS's.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const GUEST_PROCESS = fileURLToPath(new URL('./guest-fleet-process.ts', import.meta.url))

/** What the guests of one open loop need. */
export interface GuestFleetOptions {
  /** The replicas' URLs; the guests are spread over them round-robin. */
  readonly urls: readonly string[]
  /** The KBS's certificate (every replica's), pinned. */
  readonly certPem: string
  /** The simulator's directory (`loadSimulator`). */
  readonly simulatorDir: string
  /** How many guests (kept-alive connections); each is warmed up with one handshake first. */
  readonly clients: number
  /** Handshakes started per second. */
  readonly rate: number
  readonly seconds: number
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

/** Every handshake's latency in ms, sorted, from an open loop run in a process of its own. */
export function openLoopInGuestProcess(options: GuestFleetOptions): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...loaderArguments(process.execArgv), GUEST_PROCESS, JSON.stringify(options)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    )
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code === 0) resolve(JSON.parse(out) as number[])
      else reject(new Error(`the guests' process exited (${String(code)}): ${err.slice(-2000)}`))
    })
  })
}

/**
 * Interrupting a real `initguard` pull mid-download, for `image pull` and `agent pull-image`: a
 * registry proxy relays a blob's first half and then holds the connection (a stalled download),
 * and the child process gets the signal once it does.
 *
 * @module
 */
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import {
  createServer,
  request,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtemp } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))

/** A download to hold: the blob's digest, and a promise resolved once its first half is sent. */
export interface BlobHold {
  readonly digest: string
  readonly held: Promise<void>
  readonly reached: () => void
}

/** A hold on the blob `digest`, not reached yet. */
function holdBlob(digest: string): BlobHold {
  let reached = (): void => undefined
  const held = new Promise<void>((resolve) => {
    reached = resolve
  })
  return { digest, held, reached }
}

/** A loopback proxy in front of a registry that can hold one blob download half-way. */
export interface HoldingProxy {
  /** `127.0.0.1:<port>`. */
  readonly host: string
  readonly server: Server
  /** Hold the next GETs of blob `digest` (until {@link release}); the hold tells when reached. */
  hold(digest: string): BlobHold
  /** Relay every request whole again. */
  release(): void
  stop(): Promise<void>
}

/**
 * Relay every request to the registry at `target` (`host:port`); `before` may answer a request
 * itself (it returns true then). A GET of the held blob gets its headers and the first half of
 * its body, and then the connection is held open: a download that stalls.
 */
export async function startHoldingProxy(
  target: string,
  before: (incoming: IncomingMessage, outgoing: ServerResponse) => boolean = () => false,
): Promise<HoldingProxy> {
  const [hostname, port] = target.split(':')
  let current: BlobHold | undefined
  const server = createServer((incoming, outgoing) => {
    if (before(incoming, outgoing)) return
    const held =
      current !== undefined &&
      incoming.method === 'GET' &&
      incoming.url?.endsWith(`/blobs/${current.digest}`) === true
        ? current
        : undefined
    const upstream = request(
      { hostname, port, path: incoming.url, method: incoming.method, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers)
        if (held === undefined) {
          answer.pipe(outgoing)
          return
        }
        const chunks: Buffer[] = []
        answer.on('data', (chunk: Buffer) => chunks.push(chunk))
        answer.on('end', () => {
          const body = Buffer.concat(chunks)
          outgoing.write(body.subarray(0, Math.floor(body.length / 2)))
          held.reached()
        })
      },
    )
    upstream.on('error', () => outgoing.writeHead(502).end())
    incoming.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port: own } = server.address() as AddressInfo
  return {
    host: `127.0.0.1:${String(own)}`,
    server,
    hold: (digest) => (current = holdBlob(digest)),
    release: () => {
      current = undefined
    },
    stop: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

/** How an interrupted child ended. */
export interface InterruptedRun {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  readonly stdout: string
  readonly stderr: string
  /** The child's TMPDIR (its downloaded blobs go there): empty when nothing stayed behind. */
  readonly tmp: string
}

/**
 * Run `initguard ARGS` in a child with a private TMPDIR under `scratch`; once `hold` is reached
 * (the pull is mid-download), send `signal` and wait for the child to end.
 *
 * @throws Error when the child ends before the hold is reached.
 */
export async function interruptWhenHeld(
  args: readonly string[],
  hold: BlobHold,
  signal: NodeJS.Signals,
  scratch: string,
): Promise<InterruptedRun> {
  const tmp = await mkdtemp(join(scratch, 'tmp-'))
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { ...process.env, TMPDIR: tmp },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, by) => {
      resolve({ code, signal: by })
    }),
  )
  const first = await Promise.race([hold.held.then(() => 'held' as const), exited])
  if (first !== 'held')
    throw new Error(
      `the pull ended (exit ${String(first.code)}) before the download stalled: ${stderr}`,
    )
  child.kill(signal)
  return { ...(await exited), stdout, stderr, tmp }
}

/** The `.DEST.partial-…` staging directories in `parent`. */
export function stagingLeftIn(parent: string): string[] {
  return readdirSync(parent).filter((name) => name.includes('.partial-'))
}

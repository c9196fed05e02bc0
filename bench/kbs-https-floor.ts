/**
 * The HTTPS floor of the RCAR benchmark: what the platform alone (Node, TLS records, Fastify, JSON
 * in and out) costs a server per handshake's three requests, at the rate the guests reached and at
 * saturation. On two cores the guests keep the KBS lightly loaded, and a server that mostly waits
 * pays a wake-up (epoll, TLS record, timers, GC slices) on nearly every request; at saturation
 * those costs are shared by the requests that arrive together. So part of the KBS's CPU per
 * handshake is this floor at that rate, not the KBS's code, and the floor is reported beside the
 * result as context (the headline ratio does not use it).
 *
 * One real handshake against the KBS is recorded first (its challenge and cookie, the attest
 * request with simulated SNP evidence, the token, the resource JWE). `https-floor-server.mjs`
 * (bare Fastify 5 over HTTPS with the KBS's own certificate and key, no logging, no plugins) then
 * answers those three requests with those bodies, driven by the guests' connections
 * ({@link RcarConnection}: the KBS's certificate the only one trusted) from 8 kept-alive loops;
 * its CPU time comes from `/proc/PID/stat` as the KBS's.
 * Unpaced, the client side (this process, about one core) sets the rate, so "saturation" is as
 * busy as that stack can keep the server, which is already far busier than the guests keep the KBS.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseKbsAttestationToken } from '@initguard/kbs-protocol'
import { cpuSecondsOf, startListeningProcess, stopKbsProcess, type KbsProcess } from './kbs-load.ts'
import {
  RcarConnection,
  SNP_AUTH_REQUEST,
  sessionCookie,
  type RcarAnswer,
  type RcarGuest,
  type RcarTranscript,
} from './rcar-guest.ts'

const SERVER = fileURLToPath(new URL('https-floor-server.mjs', import.meta.url))
const LOOPS = 8
const WARM_UP_SECONDS = 1
const PACED_SECONDS = 5
const SATURATED_SECONDS = 4
/** As the guests wait for the KBS. */
const REQUEST_TIMEOUT_MS = 30_000

/** The server's CPU per round of three requests, and the rounds per second reached. */
export interface FloorPhase {
  readonly msPerRound: number
  readonly roundsPerSecond: number
}

/** The floor at the guests' rate and at saturation. */
export interface HttpsFloor {
  readonly paced: FloorPhase
  readonly saturated: FloorPhase
}

/** One handshake's messages, as a real KBS exchanged them (what the floor server answers). */
type RecordedHandshake = Pick<
  RcarTranscript,
  'cookie' | 'challenge' | 'attestRequest' | 'token' | 'resourceJwe'
>

/** Anything but 200 fails the benchmark. */
function ok(answer: RcarAnswer, path: string): RcarAnswer {
  if (answer.status !== 200)
    throw new Error(`the floor server answered ${path} with ${String(answer.status)}`)
  return answer
}

/** Start the floor server with the KBS's certificate and key, answering `recorded`'s bodies. */
async function startFloorServer(
  root: string,
  tlsDir: string,
  recorded: RecordedHandshake,
): Promise<KbsProcess> {
  const messages = join(root, 'https-floor-messages.json')
  const { resourceJwe, ...rest } = recorded
  await writeFile(messages, JSON.stringify({ ...rest, resource: resourceJwe }))
  return startListeningProcess('the HTTPS floor server', [
    SERVER,
    ...[join(tlsDir, 'kbs-cert.pem'), join(tlsDir, 'kbs-key.pem'), messages],
  ])
}

/**
 * `LOOPS` guests doing the three requests for `seconds`, at most `rate` rounds per second in all
 * (each round takes the next slot of one schedule; `Infinity`: back to back); the server's CPU
 * per round and the rounds per second reached.
 */
async function floorPhase(
  server: KbsProcess,
  connections: readonly RcarConnection[],
  recorded: RecordedHandshake,
  rate: number,
  seconds: number,
): Promise<FloorPhase> {
  const attestBody = Buffer.from(recorded.attestRequest)
  const { token } = parseKbsAttestationToken(JSON.parse(recorded.token))
  const pid = server.child.pid ?? 0
  const cpuBefore = await cpuSecondsOf(pid)
  const start = performance.now()
  const end = start + seconds * 1000
  let slots = 0
  let rounds = 0
  await Promise.all(
    connections.map(async (connection) => {
      for (;;) {
        const due = start + (slots++ * 1000) / rate
        if (due >= end || performance.now() >= end) return
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        const auth = ok(await connection.send('POST', '/kbs/v0/auth', {}, SNP_AUTH_REQUEST), 'auth')
        const cookie = sessionCookie(auth)
        ok(await connection.send('POST', '/kbs/v0/attest', { cookie }, attestBody), 'attest')
        ok(
          await connection.send('GET', '/kbs/v0/resource/default/bench/key', {
            authorization: `Bearer ${token}`,
          }),
          'resource',
        )
        rounds++
      }
    }),
  )
  const cpu = (await cpuSecondsOf(pid)) - cpuBefore
  return {
    msPerRound: (cpu / rounds) * 1000,
    roundsPerSecond: rounds / ((performance.now() - start) / 1000),
  }
}

/**
 * The HTTPS floor (see the module comment) beside the KBS at `kbsUrl`, whose data directory is
 * `dataDir`: paced at `rate` rounds per second (the handshakes per second the guests reached),
 * then unpaced. About 11 s.
 */
export async function measureHttpsFloor(options: {
  readonly root: string
  readonly dataDir: string
  /** A guest of the KBS: one handshake of its is recorded. */
  readonly guest: RcarGuest
  readonly certPem: string
  readonly rate: number
}): Promise<HttpsFloor> {
  const recorded = await options.guest.handshake()
  const server = await startFloorServer(options.root, join(options.dataDir, 'tls'), recorded)
  const connections = Array.from(
    { length: LOOPS },
    () => new RcarConnection(server.url, options.certPem, REQUEST_TIMEOUT_MS),
  )
  try {
    await floorPhase(server, connections, recorded, Number.POSITIVE_INFINITY, WARM_UP_SECONDS)
    const paced = await floorPhase(server, connections, recorded, options.rate, PACED_SECONDS)
    const saturated = await floorPhase(
      server,
      connections,
      recorded,
      Number.POSITIVE_INFINITY,
      SATURATED_SECONDS,
    )
    return { paced, saturated }
  } finally {
    for (const connection of connections) connection.close()
    await stopKbsProcess(server)
  }
}

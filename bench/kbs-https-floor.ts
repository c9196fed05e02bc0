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
 * answers those three requests with those bodies, driven by the guests' HTTP stack
 * ({@link HttpClient} with the pinned certificate, one for POSTs and one for GETs per guest, as
 * `KbsClient` has) from 8 kept-alive loops; its CPU time comes from `/proc/PID/stat` as the KBS's.
 * Unpaced, the client side (this process, about one core) sets the rate, so "saturation" is as
 * busy as that stack can keep the server, which is already far busier than the guests keep the KBS.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { HttpClient, httpErrors } from '@initguard/http'
import { parseInitdata } from '@initguard/initdata'
import {
  KBS_PROTOCOL_VERSION,
  expectedReportData,
  generateTeeKeyPair,
  parseKbsAttestationToken,
  parseKbsChallenge,
} from '@initguard/kbs-protocol'
import { simulateSnpEvidence, type TeeSimulator } from '@initguard/tee-simulator'
import {
  DOCUMENT,
  cpuSecondsOf,
  startListeningProcess,
  stopKbsProcess,
  type KbsProcess,
} from './kbs-load.ts'

const SERVER = fileURLToPath(new URL('https-floor-server.mjs', import.meta.url))
const LOOPS = 8
const WARM_UP_SECONDS = 1
const PACED_SECONDS = 5
const SATURATED_SECONDS = 4
const MAX_BODY_BYTES = 1024 * 1024
const AUTH_REQUEST = new TextEncoder().encode(
  JSON.stringify({
    version: KBS_PROTOCOL_VERSION,
    tee: 'snp',
    'extra-params': { 'supported-hash-algorithms': ['sha384'] },
  }),
)

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

/** One handshake's messages, as a real KBS exchanged them. */
interface RecordedHandshake {
  readonly cookie: string
  readonly challenge: string
  readonly attestRequest: string
  readonly token: string
  readonly resource: string
}

/** One guest's HTTP stack: `KbsClient` keeps one client for POSTs and one for GETs. */
interface Guest {
  readonly posts: HttpClient
  readonly gets: HttpClient
}

function guestFor(certPem: string): Guest {
  const common = {
    timeoutMs: 60_000,
    errors: httpErrors({ area: 'KBS' }),
    userAgent: 'initguard-kbs-client',
    tls: { pinnedCertificatePem: certPem },
  }
  return {
    posts: new HttpClient({ ...common, attempts: 1 }),
    gets: new HttpClient({ ...common, attempts: 3 }),
  }
}

/** One request; the body as text and the cookie it sets. Anything but 200 fails the benchmark. */
function exchange(
  http: HttpClient,
  url: string,
  headers: Readonly<Record<string, string>>,
  body?: Uint8Array,
): Promise<{ text: string; cookie: string }> {
  const post = body !== undefined
  return http.request(
    {
      method: post ? 'POST' : 'GET',
      url,
      what: url,
      headers: post ? { ...headers, 'content-type': 'application/json' } : headers,
      ...(post ? { body } : {}),
    },
    async (response) => {
      if (response.status !== 200) throw response.statusFailure()
      const cookie = (response.headers.get('set-cookie') ?? '').split(';')[0] ?? ''
      return { text: await response.text({ maxBytes: MAX_BODY_BYTES }), cookie }
    },
  )
}

/** A whole handshake with the KBS at `url`, by hand, every message kept. */
async function recordHandshake(
  url: string,
  certPem: string,
  simulator: TeeSimulator,
): Promise<RecordedHandshake> {
  const { posts, gets } = guestFor(certPem)
  const auth = await exchange(posts, `${url}/kbs/v0/auth`, {}, AUTH_REQUEST)
  const { nonce } = parseKbsChallenge(JSON.parse(auth.text))
  const teeKey = await generateTeeKeyPair('P-256')
  const reportData = expectedReportData({
    nonce,
    teePubkey: teeKey.publicJwk,
    additionalEvidence: '',
  })
  const initdata = parseInitdata(new TextEncoder().encode(DOCUMENT))
  const attestRequest = JSON.stringify({
    'init-data': { format: 'toml', body: DOCUMENT },
    'runtime-data': { nonce, 'tee-pubkey': teeKey.publicJwk },
    'tee-evidence': {
      primary_evidence: simulateSnpEvidence(simulator.material.snp, { initdata, reportData }),
      additional_evidence: '',
    },
  })
  const attest = await exchange(
    posts,
    `${url}/kbs/v0/attest`,
    { cookie: auth.cookie },
    new TextEncoder().encode(attestRequest),
  )
  const { token } = parseKbsAttestationToken(JSON.parse(attest.text))
  const resource = await exchange(gets, `${url}/kbs/v0/resource/default/bench/key`, {
    authorization: `Bearer ${token}`,
  })
  return {
    cookie: auth.cookie,
    challenge: auth.text,
    attestRequest,
    token: attest.text,
    resource: resource.text,
  }
}

/** Start the floor server with the KBS's certificate and key, answering `recorded`'s bodies. */
async function startFloorServer(
  root: string,
  tlsDir: string,
  recorded: RecordedHandshake,
): Promise<KbsProcess> {
  const messages = join(root, 'https-floor-messages.json')
  await writeFile(messages, JSON.stringify(recorded))
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
  guests: readonly Guest[],
  recorded: RecordedHandshake,
  rate: number,
  seconds: number,
): Promise<FloorPhase> {
  const attestBody = new TextEncoder().encode(recorded.attestRequest)
  const { token } = parseKbsAttestationToken(JSON.parse(recorded.token))
  const pid = server.child.pid ?? 0
  const cpuBefore = await cpuSecondsOf(pid)
  const start = performance.now()
  const end = start + seconds * 1000
  let slots = 0
  let rounds = 0
  await Promise.all(
    guests.map(async ({ posts, gets }) => {
      for (;;) {
        const due = start + (slots++ * 1000) / rate
        if (due >= end || performance.now() >= end) return
        const wait = due - performance.now()
        if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
        const { cookie } = await exchange(posts, `${server.url}/kbs/v0/auth`, {}, AUTH_REQUEST)
        await exchange(posts, `${server.url}/kbs/v0/attest`, { cookie }, attestBody)
        await exchange(gets, `${server.url}/kbs/v0/resource/default/bench/key`, {
          authorization: `Bearer ${token}`,
        })
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
  readonly kbsUrl: string
  readonly certPem: string
  readonly simulator: TeeSimulator
  readonly rate: number
}): Promise<HttpsFloor> {
  const recorded = await recordHandshake(options.kbsUrl, options.certPem, options.simulator)
  const server = await startFloorServer(options.root, join(options.dataDir, 'tls'), recorded)
  try {
    const guests = Array.from({ length: LOOPS }, () => guestFor(options.certPem))
    await floorPhase(server, guests, recorded, Number.POSITIVE_INFINITY, WARM_UP_SECONDS)
    const paced = await floorPhase(server, guests, recorded, options.rate, PACED_SECONDS)
    const saturated = await floorPhase(
      server,
      guests,
      recorded,
      Number.POSITIVE_INFINITY,
      SATURATED_SECONDS,
    )
    return { paced, saturated }
  } finally {
    await stopKbsProcess(server)
  }
}

/**
 * A simulated SNP guest for load: one whole RCAR handshake after another on one kept-alive
 * HTTPS connection, with only the work a guest cannot skip.
 *
 * Each handshake is what `KbsClient.attest` and `getResource` send, byte for byte in what the KBS
 * checks: `POST /kbs/v0/auth`; a fresh P-256 TEE key; SNP evidence from the simulator whose
 * REPORT_DATA binds the nonce, the key and the init-data (`expectedReportData`), signed by the
 * simulator's VCEK; `POST /kbs/v0/attest` with the session cookie; `GET /kbs/v0/resource/…` with
 * the token; the JWE opened with the TEE key (`openResource`). The KBS does exactly the work it
 * does for `KbsClient`.
 *
 * Why not `KbsClient`: on this 2-core machine the load generator shares the cores with the KBS
 * processes and the database, and the client's generality (a `fetch`-shaped response with a web
 * stream per request, per-request timers and abort signals, cookie scopes, checking its own
 * outgoing messages, parsing the init-data per handshake) cost 2.4 ms of CPU a handshake beside
 * 1.1 ms of crypto, as much as the KBS's own work (traced with the inspector's profiler on a
 * closed loop of 8 guests). What a benchmark of the KBS measures is then mostly the load
 * generator. Here the requests are templates and the answers are read as the KBS sends them;
 * anything other than the expected status and shape fails the benchmark loudly.
 *
 * @module
 */
import { Agent, request } from 'node:https'
import type { InitdataDocument } from '@initguard/initdata'
import {
  KBS_PROTOCOL_VERSION,
  KBS_SESSION_COOKIE,
  expectedReportData,
  generateTeeKeyPair,
  openResource,
} from '@initguard/kbs-protocol'
import { simulateSnpEvidence, type SimulatorSnpMaterial } from '@initguard/tee-simulator'

/** An answer as the KBS sent it: status, `Set-Cookie` lines and the body. */
export interface RcarAnswer {
  readonly status: number
  readonly setCookie: readonly string[]
  readonly body: Buffer
}

/** The `/kbs/v0/auth` request body of an SNP guest that binds with SHA-384 (as `KbsClient`'s). */
export const SNP_AUTH_REQUEST = Buffer.from(
  JSON.stringify({
    version: KBS_PROTOCOL_VERSION,
    tee: 'snp',
    'extra-params': { 'supported-hash-algorithms': ['sha384'] },
  }),
)

/** One kept-alive HTTPS connection to one KBS, trusting only its certificate. */
export class RcarConnection {
  readonly #agent: Agent
  readonly #host: string
  readonly #port: number
  readonly #timeoutMs: number

  /** `url`: the KBS's base URL; `timeoutMs`: the longest a request may sit idle. */
  constructor(url: string, certPem: string, timeoutMs: number) {
    const base = new URL(url)
    this.#host = base.hostname
    this.#port = Number(base.port || 443)
    this.#timeoutMs = timeoutMs
    // One socket: a guest is one connection, as a pod's agent is.
    this.#agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      ca: certPem,
      rejectUnauthorized: true,
    })
  }

  /** One request; the whole answer, whatever its status. */
  send(
    method: 'GET' | 'POST',
    path: string,
    headers: Readonly<Record<string, string>>,
    body?: Uint8Array,
  ): Promise<RcarAnswer> {
    return new Promise<RcarAnswer>((resolve, reject) => {
      const outgoing = request(
        {
          agent: this.#agent,
          host: this.#host,
          port: this.#port,
          method,
          path,
          timeout: this.#timeoutMs,
          headers: {
            ...headers,
            accept: 'application/json',
            ...(body === undefined
              ? {}
              : { 'content-type': 'application/json', 'content-length': String(body.length) }),
          },
        },
        (incoming) => {
          const chunks: Buffer[] = []
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk))
          incoming.on('error', reject)
          incoming.on('end', () => {
            resolve({
              status: incoming.statusCode ?? 0,
              setCookie: incoming.headers['set-cookie'] ?? [],
              body: Buffer.concat(chunks),
            })
          })
        },
      )
      outgoing.on('timeout', () => {
        outgoing.destroy(
          new Error(`${method} ${path}: no answer within ${String(this.#timeoutMs)} ms`),
        )
      })
      outgoing.on('error', reject)
      outgoing.end(body)
    })
  }

  /** Close the connection. */
  close(): void {
    this.#agent.destroy()
  }
}

/** What a guest needs: where the KBS is, its certificate, and what to attest with. */
export interface RcarGuestOptions {
  /** The KBS's base URL (`https://127.0.0.1:PORT`). */
  readonly url: string
  /** The KBS's self-signed certificate, the only one trusted. */
  readonly certPem: string
  /** The simulator's SNP material (its VCEK signs the evidence). */
  readonly snp: SimulatorSnpMaterial
  /** The init-data document as sent, and parsed (once, not per handshake). */
  readonly initData: { readonly text: string; readonly document: InitdataDocument }
  /** The resource to fetch (`repo/type/tag`). */
  readonly resource: string
  /** The longest one request may sit without an answer before the handshake fails. */
  readonly timeoutMs: number
}

/** Every message of one handshake as text, and the resource's plaintext. */
export interface RcarTranscript {
  /** The session cookie as the guest sends it back (`name=value`). */
  readonly cookie: string
  readonly challenge: string
  readonly attestRequest: string
  readonly token: string
  readonly resourceJwe: string
  readonly plaintext: Uint8Array
}

/** One simulated SNP guest with its own connection to one KBS. */
export class RcarGuest {
  readonly #options: RcarGuestOptions
  readonly #connection: RcarConnection
  readonly #resourcePath: string

  constructor(options: RcarGuestOptions) {
    this.#options = options
    this.#connection = new RcarConnection(options.url, options.certPem, options.timeoutMs)
    this.#resourcePath = `/kbs/v0/resource/${options.resource}`
  }

  /** One whole handshake, the JWE opened; throws on any answer a guest would not accept. */
  async handshake(): Promise<RcarTranscript> {
    const auth = await this.#connection.send('POST', '/kbs/v0/auth', {}, SNP_AUTH_REQUEST)
    const challenge = textOf(auth, '/kbs/v0/auth')
    const nonce = fieldOf(challenge, 'nonce', '/kbs/v0/auth')
    const cookie = sessionCookie(auth)
    const teeKey = await generateTeeKeyPair('P-256')
    const reportData = expectedReportData({
      nonce,
      teePubkey: teeKey.publicJwk,
      additionalEvidence: '',
    })
    const evidence = simulateSnpEvidence(this.#options.snp, {
      initdata: this.#options.initData.document,
      reportData,
    })
    const attestRequest = JSON.stringify({
      'init-data': { format: 'toml', body: this.#options.initData.text },
      'runtime-data': { nonce, 'tee-pubkey': teeKey.publicJwk },
      'tee-evidence': { primary_evidence: evidence, additional_evidence: '' },
    })
    const attest = await this.#connection.send(
      'POST',
      '/kbs/v0/attest',
      { cookie },
      Buffer.from(attestRequest),
    )
    const token = textOf(attest, '/kbs/v0/attest')
    const resource = await this.#connection.send('GET', this.#resourcePath, {
      authorization: `Bearer ${fieldOf(token, 'token', '/kbs/v0/attest')}`,
    })
    const resourceJwe = textOf(resource, this.#resourcePath)
    const plaintext = await openResource(teeKey.privateKey, JSON.parse(resourceJwe))
    return { cookie, challenge, attestRequest, token, resourceJwe, plaintext }
  }

  /** Close the connection. */
  close(): void {
    this.#connection.close()
  }
}

/** The body of a 200 answer as text; any other status fails the benchmark with the KBS's words. */
function textOf(answer: RcarAnswer, path: string): string {
  if (answer.status !== 200) throw unexpected(path, answer)
  return answer.body.toString('utf8')
}

/** A string member of a JSON object answer. */
function fieldOf(text: string, field: string, path: string): string {
  const value: unknown = (JSON.parse(text) as Record<string, unknown>)[field]
  if (typeof value !== 'string')
    throw new Error(`${path} answered without a string ${field}: ${text.slice(0, 300)}`)
  return value
}

/** The session cookie a `/kbs/v0/auth` answer sets, as `name=value`; throws when it sets none. */
export function sessionCookie(answer: RcarAnswer): string {
  const prefix = `${KBS_SESSION_COOKIE}=`
  for (const line of answer.setCookie)
    if (line.startsWith(prefix)) return line.split(';', 1)[0] ?? ''
  throw unexpected('/kbs/v0/auth (no session cookie)', answer)
}

function unexpected(path: string, answer: RcarAnswer): Error {
  return new Error(
    `${path} answered ${String(answer.status)}: ${answer.body.toString('utf8').slice(0, 300)}`,
  )
}

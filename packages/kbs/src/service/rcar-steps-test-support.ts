/**
 * Test support: the RCAR handshake as raw requests, so each step can go to a different replica
 * (`/auth` on one, `/attest` on another, `/resource` on a third), an honest guest that starts over
 * on the next replica when one fails under it, and attackers that ask for secrets without having
 * attested. Every outcome is a value: released, or failed with the status or the client's error
 * code; an error that is not an `InitguardError` is a bug and is thrown.
 *
 * @module
 */
import { isInitguardError, stringToUtf8, utf8ToString } from '@initguard/core'
import type { HttpClient } from '@initguard/http'
import { parseInitdata } from '@initguard/initdata'
import {
  KBS_PROTOCOL_VERSION,
  expectedReportData,
  generateTeeKeyPair,
  openResource,
  type KbsResourceJwe,
  type TeeKeyPair,
} from '@initguard/kbs-protocol'
import { simulateSnpEvidence, type TeeSimulator } from '@initguard/tee-simulator'

/** How one step answered: its status and body, or the client's error code (no answer). */
export type Answer =
  | { readonly status: number; readonly body: string; readonly cookie?: string }
  | { readonly code: string }

/** A handshake's result. `step` and `status`/`code` say where and how it failed. */
export type HandshakeOutcome =
  | { readonly released: true; readonly secret: string }
  | {
      readonly released: false
      readonly step: 'auth' | 'attest' | 'resource'
      readonly status?: number
      readonly code?: string
    }

/** The replicas (base URLs) each step goes to. */
export interface HandshakeRoute {
  readonly auth: string
  readonly attest: string
  readonly resource: string
}

export async function ask(
  http: HttpClient,
  url: string,
  options: { readonly body?: unknown; readonly headers?: Readonly<Record<string, string>> } = {},
): Promise<Answer> {
  try {
    return await http.request(
      {
        method: options.body === undefined ? 'GET' : 'POST',
        url,
        what: url,
        headers: {
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
        ...(options.body === undefined ? {} : { body: stringToUtf8(JSON.stringify(options.body)) }),
      },
      async (response) => {
        const cookie = response.headers
          .getSetCookie()
          .map((header) => /^kbs-session-id=([0-9a-f]+)/.exec(header)?.[1])
          .find((value) => value !== undefined)
        const body = await response.text({ maxBytes: 1 << 20 })
        return { status: response.status, body, ...(cookie === undefined ? {} : { cookie }) }
      },
    )
  } catch (error) {
    if (!isInitguardError(error)) throw error
    // The client reports a 5xx as an error that carries its status.
    const status = error.details['status']
    return typeof status === 'number' ? { status, body: '' } : { code: error.code }
  }
}

const failed = (step: 'auth' | 'attest' | 'resource', answer: Answer): HandshakeOutcome => ({
  released: false,
  step,
  ...('code' in answer ? { code: answer.code } : { status: answer.status }),
})

/** What a guest launched with `initdata` (TOML) sends to `/attest` for `nonce`, and its key. */
export async function attestation(
  simulator: TeeSimulator,
  initdata: string,
  nonce: string,
): Promise<{ readonly teeKey: TeeKeyPair; readonly body: Record<string, unknown> }> {
  const teeKey = await generateTeeKeyPair('P-256')
  const reportData = expectedReportData({
    nonce,
    teePubkey: teeKey.publicJwk,
    additionalEvidence: '',
  })
  const evidence = simulateSnpEvidence(simulator.material.snp, {
    initdata: parseInitdata(stringToUtf8(initdata)),
    reportData,
  })
  const body = {
    'init-data': { format: 'toml', body: initdata },
    'runtime-data': { nonce, 'tee-pubkey': teeKey.publicJwk },
    'tee-evidence': {
      primary_evidence: JSON.parse(JSON.stringify(evidence)) as unknown,
      additional_evidence: '',
    },
  }
  return { teeKey, body }
}

/** `POST /auth`: the session cookie and nonce, or how it failed. */
export async function auth(
  http: HttpClient,
  url: string,
): Promise<{ readonly cookie: string; readonly nonce: string } | HandshakeOutcome> {
  const answer = await ask(http, `${url}/kbs/v0/auth`, {
    body: {
      version: KBS_PROTOCOL_VERSION,
      tee: 'snp',
      'extra-params': { 'supported-hash-algorithms': ['sha384'] },
    },
  })
  if ('code' in answer || answer.status !== 200 || answer.cookie === undefined)
    return failed('auth', answer)
  return { cookie: answer.cookie, nonce: (JSON.parse(answer.body) as { nonce: string }).nonce }
}

/**
 * One handshake of a simulated SNP guest launched with `initdata`, each step on the replica
 * `route` names, then `path` with the session cookie (`via: 'cookie'`) or the token.
 */
export async function handshake(
  http: HttpClient,
  simulator: TeeSimulator,
  route: HandshakeRoute,
  initdata: string,
  path: string,
  via: 'cookie' | 'bearer' = 'cookie',
): Promise<HandshakeOutcome> {
  const session = await auth(http, route.auth)
  if ('released' in session) return session
  const cookie = { cookie: `kbs-session-id=${session.cookie}` }
  const { teeKey, body } = await attestation(simulator, initdata, session.nonce)
  const attested = await ask(http, `${route.attest}/kbs/v0/attest`, { body, headers: cookie })
  if ('code' in attested || attested.status !== 200) return failed('attest', attested)
  const { token } = JSON.parse(attested.body) as { token: string }
  const released = await ask(http, `${route.resource}/kbs/v0/resource/${path}`, {
    headers: via === 'cookie' ? cookie : { authorization: `Bearer ${token}` },
  })
  if ('code' in released || released.status !== 200) return failed('resource', released)
  const jwe = JSON.parse(released.body) as KbsResourceJwe
  return { released: true, secret: utf8ToString(await openResource(teeKey.privateKey, jwe)) }
}

/** Whether a failed step is worth trying again elsewhere: no answer, or 503. */
export function isRetryable(outcome: HandshakeOutcome): boolean {
  return !outcome.released && (outcome.code !== undefined || outcome.status === 503)
}

/**
 * An honest guest behind a load balancer: handshakes starting at `replicas[start]`, each step on
 * the next replica, starting over on every retryable failure, at most `attempts` times. A replica
 * that did not answer at all is left out of later routes (as a load balancer's health check
 * would), unless none would be left. Returns every handshake's outcome, the last one deciding.
 */
export async function handshakeWithFailover(
  http: HttpClient,
  simulator: TeeSimulator,
  replicas: readonly string[],
  options: {
    readonly start: number
    readonly initdata: string
    readonly path: string
    readonly attempts: number
    readonly backoffMs: number
  },
): Promise<readonly HandshakeOutcome[]> {
  const silent = new Set<string>()
  const outcomes: HandshakeOutcome[] = []
  for (let attempt = 0; attempt < options.attempts; attempt++) {
    const answering = replicas.filter((url) => !silent.has(url))
    const usable = answering.length > 0 ? answering : replicas
    const at = (offset: number): string => usable[offset % usable.length] ?? ''
    const first = options.start + attempt
    const route = { auth: at(first), attest: at(first + 1), resource: at(first + 2) }
    const outcome = await handshake(http, simulator, route, options.initdata, options.path)
    outcomes.push(outcome)
    if (!isRetryable(outcome)) break
    if (!outcome.released && outcome.code !== undefined) silent.add(route[outcome.step])
    await new Promise((resolve) => setTimeout(resolve, options.backoffMs))
  }
  return outcomes
}

/** The ways an attacker asks for a secret without having attested. */
export const ATTACKS = [
  'no-credentials',
  'forged-token',
  'unattested-cookie',
  'refused-cookie',
] as const
export type Attack = (typeof ATTACKS)[number]

/**
 * One attack on `url` for `path`: the status of the resource request (`undefined` when there was
 * no answer). `refused-cookie` first attests with evidence for `otherInitdata`, which no workload
 * accepts, then asks with that session's cookie.
 */
export async function attack(
  http: HttpClient,
  simulator: TeeSimulator,
  url: string,
  kind: Attack,
  path: string,
  otherInitdata: string,
): Promise<number | undefined> {
  const resource = `${url}/kbs/v0/resource/${path}`
  const statusOf = (answer: Answer): number | undefined =>
    'status' in answer ? answer.status : undefined
  switch (kind) {
    case 'no-credentials':
      return statusOf(await ask(http, resource))
    case 'forged-token': {
      const part = (value: unknown): string =>
        Buffer.from(JSON.stringify(value)).toString('base64url')
      const claims = { iss: 'initguard-kbs', exp: Math.floor(Date.now() / 1000) + 300 }
      const token = `${part({ alg: 'ES256', typ: 'JWT', kid: 'made-up' })}.${part(claims)}.${'A'.repeat(86)}`
      return statusOf(await ask(http, resource, { headers: { authorization: `Bearer ${token}` } }))
    }
    case 'unattested-cookie':
    case 'refused-cookie': {
      const session = await auth(http, url)
      if ('released' in session) return undefined
      const cookie = { cookie: `kbs-session-id=${session.cookie}` }
      if (kind === 'refused-cookie') {
        const { body } = await attestation(simulator, otherInitdata, session.nonce)
        await ask(http, `${url}/kbs/v0/attest`, { body, headers: cookie })
      }
      return statusOf(await ask(http, resource, { headers: cookie }))
    }
  }
}

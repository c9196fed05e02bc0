/**
 * The agent's attestation session with its KBS: one {@link KbsClient} pinned to the certificate
 * of the verified documents, attesting with fresh reports from the {@link GuestTee} and sending the
 * exact verified document text as `init-data`.
 *
 * - The token is reused until shortly before it expires, then a new handshake runs. Its lifetime
 *   is the KBS's own (`exp` − `iat`, read from the JWT payload, which is trusted for nothing
 *   else: the KBS checks its own token), counted from the moment it arrived on both the wall
 *   and the monotonic clock, whichever has run longer: a guest clock off from the KBS's neither
 *   hands out a token the KBS already takes as expired nor attests again on every request, and a
 *   wall clock stepped back since does not keep it longer (nor a suspend, which the monotonic
 *   clock does not count). Without `iat`, or with one that gives no lifetime a KBS gives (at or
 *   after `exp`, or more than a day before it), the lifetime is `exp` less the guest's clock.
 * - Concurrent requests share one handshake in flight; a failed handshake is not kept.
 * - A resource answered 401 drops the token and goes through the shared handshake, then retries
 *   once: N requests refused at once cause one handshake, not N. So does a 431 for a token too
 *   long for a header once its cookie is gone; a 431 after that new handshake is
 *   `ERR_KBS_TOKEN_TOO_LONG` (the KBS cannot serve this client), and no further handshake runs.
 * - Every handshake and every resource fetch has a total time limit (default 15 s, well inside
 *   Kubernetes' 30 s grace), and {@link AgentKbsSession.close} aborts whatever is in flight, so a
 *   KBS that accepts connections and never answers holds up neither requests nor shutdown.
 * - Every report is checked before it is sent: it carries the REPORT_DATA asked for and, when the
 *   init-data was verified, the same init-time field that matched at start-up.
 *
 * @module
 */
import { UnavailableError, base64urlToBytes, isInitguardError, utf8ToString } from '@initguard/core'
import type { KbsClient, KbsClientOptions, KbsSession } from '@initguard/kbs-protocol'
import type { GuestTee } from '@initguard/tee'
import { checkedReport } from './agent-report.ts'
import { pinnedTlsRefusal, waitFor } from './kbs-session-errors.ts'
import type { KbsEndpoint } from './kbs-config.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** Settings of an {@link AgentKbsSession}. */
export interface AgentKbsSessionOptions {
  readonly endpoint: KbsEndpoint
  readonly tee: GuestTee
  readonly initdata: VerifiedInitdata | UnboundInitdata
  /**
   * The wall clock, default the system's: a token's age is counted on it as well as on the
   * monotonic clock, and a token without `iat` is judged by it.
   */
  readonly clock?: () => Date
  /** A monotonic clock in ms a token's age is also counted on; default `performance.now`. */
  readonly monotonicMs?: () => number
  /** Per-request timeout towards the KBS (no progress for this long); default 10 s. */
  readonly timeoutMs?: number
  /** The whole of one handshake, or of one resource fetch with its retries; default 15 s. */
  readonly totalTimeoutMs?: number
}

/** A token as `GET /aa/token?token_type=kbs` hands it out. */
export interface AgentKbsToken {
  /** The KBS's attestation token (a JWT). */
  readonly token: string
  /** The TEE private key the token's resources are encrypted to (PKCS#8 PEM). */
  readonly teeKeyPem: string
  /** The token's `exp`, when it has one. */
  readonly expiresAt: Date | undefined
}

/** Refresh this long before `exp` at most (and at most a tenth of the token's lifetime). */
const REFRESH_MARGIN_MS = 30_000
/** Defaults: CoCo's client waits 60 s per request, longer than a pod's 30 s grace to stop. */
const DEFAULT_TIMEOUT_MS = 10_000
/**
 * The default total limit of one handshake, or of one resource fetch with its retries: 15 s. A
 * guest-API answer that needs a handshake and then the resource may so take twice this before its
 * headers are sent, which is what a client of the guest API must wait for.
 */
export const AGENT_KBS_TOTAL_TIMEOUT_MS = 15_000
/** The longest token lifetime a KBS gives: ours at most 24 h (`[tokens] lifetime`). */
const LONGEST_TOKEN_LIFETIME_MS = 24 * 3_600_000
/**
 * The `exp` of a JWT as a date (undefined when the payload has none: never reused then), and its
 * lifetime in ms by the issuer's clock, `exp` − `iat` (undefined without a finite `iat`, or when
 * that is not from 0 to {@link LONGEST_TOKEN_LIFETIME_MS}, excluded and included).
 */
function tokenTimes(token: string): {
  readonly expiresAt: Date | undefined
  readonly lifetimeMs: number | undefined
} {
  let payload: { exp?: unknown; iat?: unknown } | null
  try {
    payload = JSON.parse(
      utf8ToString(base64urlToBytes(token.split('.')[1] ?? '')),
    ) as typeof payload
  } catch {
    return { expiresAt: undefined, lifetimeMs: undefined }
  }
  const finite = (value: unknown): value is number =>
    typeof value === 'number' && Number.isFinite(value)
  const { exp, iat } = payload ?? {}
  if (!finite(exp)) return { expiresAt: undefined, lifetimeMs: undefined }
  const expiresAt = new Date(exp * 1000)
  // An invalid date (an exp beyond what a Date holds) is no expiry at all: never reused.
  if (Number.isNaN(expiresAt.getTime())) return { expiresAt: undefined, lifetimeMs: undefined }
  // Believed only as a lifetime a KBS gives (up to a day): an `iat` of 0, or after `exp`, would
  // keep a token for ever or attest on every request; then `exp` less the guest's clock decides.
  const lifetimeMs = finite(iat) ? (exp - iat) * 1000 : Number.NaN
  return {
    expiresAt,
    lifetimeMs: lifetimeMs > 0 && lifetimeMs <= LONGEST_TOKEN_LIFETIME_MS ? lifetimeMs : undefined,
  }
}

interface Current {
  readonly session: KbsSession
  /** When it arrived, by the wall clock and by the monotonic clock (ms). */
  readonly arrivedAt: number
  readonly arrivedMonotonic: number
  /** How long after arriving to attest again instead of reusing the token (ms). */
  readonly reuseMs: number
  readonly expiresAt: Date | undefined
}

/** The agent's session with its KBS (see the module comment). */
export class AgentKbsSession {
  /** The KBS this session talks to. */
  readonly endpoint: KbsEndpoint
  readonly #clientOptions: KbsClientOptions
  #client: Promise<KbsClient> | undefined
  readonly #tee: GuestTee
  readonly #initdata: VerifiedInitdata | UnboundInitdata
  readonly #clock: () => Date
  readonly #monotonicMs: () => number
  #current: Current | undefined
  #inFlight: Promise<Current> | undefined
  #handshakes = 0
  readonly #totalTimeoutMs: number
  /** Fired by {@link AgentKbsSession.close}: aborts every KBS call in flight. */
  readonly #stopped = new AbortController()

  /** Nothing is contacted (nor the protocol client loaded) before the first request. */
  constructor(options: AgentKbsSessionOptions) {
    this.endpoint = options.endpoint
    const pem = options.endpoint.pinnedCertificatePem
    this.#clientOptions = {
      url: options.endpoint.url,
      ...(pem === undefined ? {} : { tls: { pinnedCertificatePem: pem } }),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      // The client's total would otherwise be timeoutMs: a steady resource download longer than
      // one stall is allowed would fail well inside this session's own total.
      totalTimeoutMs: options.totalTimeoutMs ?? AGENT_KBS_TOTAL_TIMEOUT_MS,
    }
    this.#totalTimeoutMs = options.totalTimeoutMs ?? AGENT_KBS_TOTAL_TIMEOUT_MS
    this.#tee = options.tee
    this.#initdata = options.initdata
    this.#clock = options.clock ?? (() => new Date())
    this.#monotonicMs = options.monotonicMs ?? (() => performance.now())
  }

  /** Handshakes started (each asks the TEE for one report), including re-handshakes on 401. */
  get handshakes(): number {
    return this.#handshakes
  }

  /** A valid token and its TEE key, attesting first when there is none or it is about to expire. */
  async token(signal?: AbortSignal): Promise<AgentKbsToken> {
    const { session, expiresAt } = await this.#pinned(this.#fresh(signal))
    const teeKeyPem = session.teeKey.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    return { token: session.token, teeKeyPem, expiresAt }
  }

  /**
   * The plaintext of the resource `repo/type/tag`, decrypted here with the TEE key.
   *
   * @throws the client's coded errors (`ERR_KBS_FORBIDDEN`, `ERR_KBS_NOT_FOUND`, `ERR_KBS_TLS`,
   *   `ERR_KBS_UNREACHABLE` …), `ERR_KBS_RESOURCE_PATH` for a bad path.
   */
  async resource(path: string, signal?: AbortSignal): Promise<Uint8Array> {
    for (let retried = false; ; retried = true) {
      const used = await this.#pinned(this.#fresh(signal))
      const client = await this.#kbsClient()
      try {
        return await this.#pinned(
          this.#bounded(`answer for the resource ${path}`, signal, (bounded) =>
            // After its own new handshake: a 431 that persists is ERR_KBS_TOKEN_TOO_LONG then.
            client.getResource(path, {
              signal: bounded,
              retryUnauthorized: false,
              reattested: retried,
            }),
          ),
        )
      } catch (error) {
        // The token expired early or the KBS forgot it: drop it, and join the one re-handshake.
        if (retried || !isInitguardError(error) || error.code !== 'ERR_KBS_UNAUTHORIZED')
          throw error
        if (this.#current === used) this.#current = undefined
      }
    }
  }

  /**
   * Abort every handshake and resource fetch in flight (they fail `ERR_AGENT_STOPPING`), and
   * refuse new ones: the agent is stopping.
   */
  close(): void {
    this.#stopped.abort(
      new UnavailableError('ERR_AGENT_STOPPING', 'the agent is stopping', {
        hint: 'ask again once the agent runs again',
      }),
    )
  }

  /**
   * `work` under a signal that fires after the total timeout, on {@link close}, or with
   * `signal`; a timeout or a stop is told as what it is, not as a cancelled request.
   */
  async #bounded<T>(
    what: string,
    signal: AbortSignal | undefined,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    const stopped = this.#stopped.signal
    if (stopped.aborted) throw stopped.reason as Error
    const timeout = AbortSignal.timeout(this.#totalTimeoutMs)
    const combined = AbortSignal.any([stopped, timeout, ...(signal === undefined ? [] : [signal])])
    try {
      return await work(combined)
    } catch (error) {
      // Read again: the work may have been stopped while it ran.
      if (this.#stopped.signal.aborted) throw this.#stopped.signal.reason as Error
      if (timeout.aborted && signal?.aborted !== true)
        throw new UnavailableError(
          'ERR_KBS_TIMEOUT',
          `the KBS at ${this.endpoint.url} did not ${what} within ${this.#totalTimeoutMs} ms`,
          {
            cause: error,
            details: { url: this.endpoint.url, timeoutMs: this.#totalTimeoutMs },
            hint: 'check that the KBS is up and reachable from the guest; ask again later',
          },
        )
      throw error
    }
  }

  /** The protocol client, loaded on first use so the agent's start-up does not load it. */
  #kbsClient(): Promise<KbsClient> {
    this.#client ??= import('@initguard/kbs-protocol').then(
      ({ KbsClient }) => new KbsClient(this.#clientOptions),
    )
    return this.#client
  }

  /** `work`, with a TLS refusal told as what it means here ({@link pinnedTlsRefusal}). */
  async #pinned<T>(work: Promise<T>): Promise<T> {
    try {
      return await work
    } catch (error) {
      throw pinnedTlsRefusal(this.endpoint, error)
    }
  }

  async #fresh(signal: AbortSignal | undefined): Promise<Current> {
    const current = this.#current
    if (current !== undefined && this.#ageMs(current) < current.reuseMs) return current
    // Not tied to the first caller's signal: the handshake is shared by every waiting request.
    this.#inFlight ??= this.#bounded('complete a handshake', undefined, (bounded) =>
      this.#handshake(bounded),
    ).finally(() => {
      this.#inFlight = undefined
    })
    return waitFor(this.#inFlight, signal)
  }

  async #handshake(signal: AbortSignal): Promise<Current> {
    const initData = this.#initdata.text
    const client = await this.#kbsClient()
    const session = await client.attest({
      tee: this.#tee.tee,
      teeKeyKind: this.endpoint.teeKeyKind,
      initData,
      evidence: (reportData) => this.#evidence(reportData, signal),
      signal,
    })
    this.#current = this.#adopt(session)
    return this.#current
  }

  #adopt(session: KbsSession): Current {
    const arrivedAt = this.#clock().getTime()
    const arrivedMonotonic = this.#monotonicMs()
    const { expiresAt, lifetimeMs } = tokenTimes(session.token)
    const lifetime = expiresAt === undefined ? 0 : (lifetimeMs ?? expiresAt.getTime() - arrivedAt)
    const margin = Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) / 10)
    return { session, expiresAt, arrivedAt, arrivedMonotonic, reuseMs: lifetime - margin }
  }

  /** How long ago the token arrived: the longer of the wall clock's and the monotonic clock's. */
  #ageMs(current: Current): number {
    return Math.max(
      this.#clock().getTime() - current.arrivedAt,
      this.#monotonicMs() - current.arrivedMonotonic,
    )
  }

  /** A fresh report's evidence, checked to bind what was asked and the verified init-data. */
  async #evidence(reportData: Uint8Array, signal: AbortSignal): Promise<unknown> {
    this.#handshakes++
    return (await checkedReport(this.#tee, this.#initdata, reportData, signal)).evidence
  }
}

/**
 * The agent's attestation session with its KBS: one {@link KbsClient} pinned to the certificate
 * of the verified documents, attesting with fresh reports from the {@link GuestTee} and sending the
 * exact verified document text as `init-data`.
 *
 * - The token is reused until shortly before its `exp` (read from the JWT payload, which is
 *   trusted for nothing else: the KBS checks its own token), then a new handshake runs.
 * - Concurrent requests share one handshake in flight.
 * - A resource answered 401 re-runs the handshake once (the client does it).
 * - Every report is checked before it is sent: it carries the REPORT_DATA asked for and, when the
 *   init-data was verified, the same init-time field that matched at start-up.
 *
 * @module
 */
import { X509Certificate } from 'node:crypto'
import {
  VerificationError,
  base64urlToBytes,
  isInitguardError,
  utf8ToString,
} from '@initguard/core'
import type { KbsClient, KbsClientOptions, KbsSession } from '@initguard/kbs-protocol'
import type { GuestTee } from '@initguard/tee'
import { checkedReport } from './agent-report.ts'
import type { KbsEndpoint } from './kbs-config.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

/** Settings of an {@link AgentKbsSession}. */
export interface AgentKbsSessionOptions {
  readonly endpoint: KbsEndpoint
  readonly tee: GuestTee
  readonly initdata: VerifiedInitdata | UnboundInitdata
  /** The clock tokens are judged by; default the system clock. */
  readonly clock?: () => Date
  /** Per-request timeout towards the KBS; default 60 s. */
  readonly timeoutMs?: number
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

/** The `exp` of a JWT as a date, or undefined when the payload has none (never reused then). */
function tokenExpiry(token: string): Date | undefined {
  try {
    const payload: unknown = JSON.parse(utf8ToString(base64urlToBytes(token.split('.')[1] ?? '')))
    const exp = (payload as { exp?: unknown } | null)?.exp
    return typeof exp === 'number' && Number.isFinite(exp) ? new Date(exp * 1000) : undefined
  } catch {
    return undefined
  }
}

interface Current {
  readonly session: KbsSession
  /** When to attest again instead of reusing the token. */
  readonly refreshAt: number
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
  #current: Current | undefined
  #inFlight: Promise<Current> | undefined
  #handshakes = 0

  /** Nothing is contacted (nor the protocol client loaded) before the first request. */
  constructor(options: AgentKbsSessionOptions) {
    this.endpoint = options.endpoint
    const pem = options.endpoint.pinnedCertificatePem
    this.#clientOptions = {
      url: options.endpoint.url,
      ...(pem === undefined ? {} : { tls: { pinnedCertificatePem: pem } }),
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    }
    this.#tee = options.tee
    this.#initdata = options.initdata
    this.#clock = options.clock ?? (() => new Date())
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
    await this.#pinned(this.#fresh(signal))
    const client = await this.#kbsClient()
    const plaintext = await this.#pinned(
      client.getResource(path, signal === undefined ? {} : { signal }),
    )
    // A 401 made the client attest again: remember the new token's expiry.
    const session = client.session
    if (session !== undefined && session !== this.#current?.session)
      this.#current = this.#adopt(session)
    return plaintext
  }

  /** The protocol client, loaded on first use so the agent's start-up does not load it. */
  #kbsClient(): Promise<KbsClient> {
    this.#client ??= import('@initguard/kbs-protocol').then(
      ({ KbsClient }) => new KbsClient(this.#clientOptions),
    )
    return this.#client
  }

  /** `work`, with a TLS refusal told as what it means here: not the pinned KBS. */
  async #pinned<T>(work: Promise<T>): Promise<T> {
    try {
      return await work
    } catch (error) {
      const pem = this.endpoint.pinnedCertificatePem
      if (!isInitguardError(error) || error.code !== 'ERR_KBS_TLS' || pem === undefined) throw error
      throw new VerificationError(
        'ERR_KBS_TLS',
        `the KBS at ${this.endpoint.url} did not present the certificate pinned in the verified init-data's ${this.endpoint.namedBy.join(' and ')} (SHA-256 ${new X509Certificate(pem).fingerprint256}); nothing was sent to it: ${error.message}`,
        {
          cause: error,
          details: error.details,
          hint: 'the KBS must present exactly the pinned certificate: fix the KBS, or launch the guest with init-data pinning its certificate',
        },
      )
    }
  }

  async #fresh(signal: AbortSignal | undefined): Promise<Current> {
    const current = this.#current
    if (current !== undefined && this.#clock().getTime() < current.refreshAt) return current
    if (this.#inFlight === undefined) {
      // Not tied to the first caller's signal: the handshake is shared by every waiting request.
      this.#inFlight = this.#handshake().finally(() => {
        this.#inFlight = undefined
      })
    }
    const handshake = this.#inFlight
    if (signal === undefined) return handshake
    signal.throwIfAborted()
    return Promise.race([
      handshake,
      new Promise<never>((_, reject) => {
        signal.addEventListener(
          'abort',
          () => {
            reject(signal.reason as Error)
          },
          { once: true },
        )
      }),
    ])
  }

  async #handshake(): Promise<Current> {
    const initData = this.#initdata.text
    const client = await this.#kbsClient()
    const session = await client.attest({
      tee: this.#tee.tee,
      teeKeyKind: this.endpoint.teeKeyKind,
      initData,
      evidence: (reportData) => this.#evidence(reportData),
    })
    this.#current = this.#adopt(session)
    return this.#current
  }

  #adopt(session: KbsSession): Current {
    const now = this.#clock().getTime()
    const expiresAt = tokenExpiry(session.token)
    const lifetime = expiresAt === undefined ? 0 : expiresAt.getTime() - now
    const margin = Math.min(REFRESH_MARGIN_MS, Math.max(0, lifetime) / 10)
    return { session, expiresAt, refreshAt: now + lifetime - margin }
  }

  /** A fresh report's evidence, checked to bind what was asked and the verified init-data. */
  async #evidence(reportData: Uint8Array): Promise<unknown> {
    this.#handshakes++
    return (await checkedReport(this.#tee, this.#initdata, reportData)).evidence
  }
}

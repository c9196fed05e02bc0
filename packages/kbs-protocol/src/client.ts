/**
 * The KBS client (RCAR 0.4.0), as CoCo's `kbs_protocol` client speaks it, over the project's one
 * HTTP client:
 *
 * ```text
 * POST /kbs/v0/auth    {"version":"0.4.0","tee",…}          → challenge + kbs-session-id cookie
 *      REPORT_DATA = SHA-384(JCS({additional-evidence, nonce, tee-pubkey})) ‖ 0¹⁶ → evidence
 * POST /kbs/v0/attest  (cookie) {init-data?, runtime-data, tee-evidence} → {"token"}
 * GET  /kbs/v0/resource/<repo>/<type>/<tag>  (Authorization: Bearer <token>) → JWE → plaintext
 * ```
 *
 * A token longer than {@link MAX_BEARER_TOKEN_LENGTH} (the KBS copies the init-data's `[data]`
 * into it, and a Kata agent policy there is tens of kB) is not sent as a header: the resource is
 * asked for with the session cookie it was issued under, as CoCo's client always does. The cookie
 * lives as RFC 6265 says (`client-session-cookie.ts`): one the KBS deleted (`Max-Age` ≤ 0, an
 * `Expires` in the past) or that outlived its `Max-Age`/`Expires` is not sent; an `/auth` answer
 * that deletes it is refused (`ERR_KBS_SESSION_DELETED`), as is a lifetime that does not parse, a
 * `Domain` the KBS's host does not match, a `Path` that does not cover `/attest` and the
 * resources under the KBS URL, or `Secure` on a plain `http://` KBS URL (`ERR_KBS_SESSION_COOKIE`):
 * a browser would not send it there, and a `Secure` cookie is never sent in clear text.
 * The long token is then sent as a Bearer header, and a KBS that cannot read it (431) is treated
 * as a 401: one new handshake, or `ERR_KBS_UNAUTHORIZED` for a caller that re-handshakes itself.
 * A 431 that persists after that one new handshake (a KBS that deletes the cookie on every
 * `/attest` answer, or keeps it for less time than it takes to ask) is `ERR_KBS_TOKEN_TOO_LONG`:
 * no authorization was refused, the KBS cannot serve this client, and another handshake would
 * only end the same way.
 *
 * TLS: a pinned certificate means the server must present exactly it; otherwise a CA bundle, or
 * Node's roots; verification is never turned off. Plain `http://` only when the URL says so, and
 * then no TLS option may be given (it would be silently unused). A 401 on a resource re-runs the
 * handshake once when the client knows how to attest (it ran {@link KbsClient.attest} itself).
 * No redirect is followed (`ERR_KBS_REDIRECT`, for `/auth` and `/attest` too): the KBS answers at
 * the URL it was given, or not. Only a 200 is an answer: Trustee grants every request with 200, and
 * a 203 or 206 (a proxy's rewrite, a partial body) is `ERR_KBS_STATUS`, not read as one; and a 200
 * is read only when its Content-Type is `application/json`, as both Trustee and this project's KBS
 * send (`ERR_KBS_CONTENT_TYPE` for a proxy's HTML page, say, or no Content-Type at all). A KBS that
 * refuses the protocol version on `/auth` (Trustee: 401, "KBS Client Protocol Version Mismatch")
 * is `ERR_KBS_PROTOCOL_VERSION`, not a refused attestation.
 *
 * @module
 */
import {
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
} from '@initguard/core'
import { HttpClient, httpErrors, type HttpResponse } from '@initguard/http'
import { expectedReportData } from './report-data-binding.ts'
import {
  KBS_PROTOCOL_VERSION,
  KBS_SESSION_COOKIE,
  type KbsAttestation,
  type KbsTee,
} from './messages.ts'
import {
  parseKbsAttestation,
  parseKbsAttestationToken,
  parseKbsChallenge,
} from './message-parse.ts'
import { openResource } from './resource-jwe-open.ts'
import { generateTeeKeyPair, type TeeKeyKind, type TeeKeyPair } from './tee-key.ts'
import { jsonBody, kbsResponseError, resourcePath } from './client-responses.ts'
import {
  cookieError,
  sessionCookieOf,
  type SessionCookieScope,
  type SessionCookieUpdate,
} from './client-session-cookie.ts'

/** Settings of a {@link KbsClient}. */
export interface KbsClientOptions {
  /** The KBS, `https://host:port` (or `http://…`, explicitly); `/kbs/v0/…` is appended. */
  readonly url: string
  /** Whom to trust: one exact certificate, or a CA bundle (PEM); default Node's roots. */
  readonly tls?: { readonly pinnedCertificatePem?: string; readonly caPem?: string }
  /**
   * Per-request timeout: the longest wait for an answer's headers (connecting included) and the
   * longest stall while its body streams; and, unless `totalTimeoutMs` is given, the whole request
   * too (every attempt, the body), as reqwest's `timeout` in CoCo's client. Default 60 s (CoCo's
   * client uses 60 s). A server that trickles its body cannot hold the client longer: past the
   * total, `ERR_KBS_DEADLINE`.
   */
  readonly timeoutMs?: number
  /**
   * The whole of one request (connecting, every attempt, the body); default `timeoutMs`. A caller
   * with its own total budget (the guest agent) gives it here, so that a large resource that
   * streams steadily may take longer than one stall may.
   */
  readonly totalTimeoutMs?: number
  /** Largest resource response accepted (the JWE JSON); default 16 MiB. */
  readonly maxResourceBytes?: number
  /** A token and TEE key obtained elsewhere (e.g. from an attestation agent). */
  readonly session?: KbsSession
}

/** What to attest with. */
export interface KbsAttestOptions {
  readonly tee: KbsTee
  /** Makes the TEE's evidence JSON for this REPORT_DATA (64 bytes). */
  readonly evidence: (reportData: Uint8Array) => Promise<unknown>
  /** The exact init-data TOML the host gave the guest, sent as `init-data`. */
  readonly initData?: string
  /** `additional_evidence`; only `""` (no additional devices) is supported. */
  readonly additionalEvidence?: ''
  /** The TEE key to bind; default a fresh one of `teeKeyKind`. */
  readonly teeKey?: TeeKeyPair
  /** Default `P-256`, as CoCo's client. */
  readonly teeKeyKind?: TeeKeyKind
  readonly signal?: AbortSignal
}

/** An attested session: the token and the TEE key resources are encrypted to. */
export interface KbsSession {
  readonly token: string
  readonly teeKey: TeeKeyPair
  /**
   * The `kbs-session-id` the token was issued under (set by {@link KbsClient.attest}): resources
   * are asked for with it when the token is too long for a request header. Absent when the KBS
   * deleted it (`Max-Age=0`, an `Expires` in the past) on its `/attest` answer.
   */
  readonly cookie?: string
  /**
   * When the cookie's lifetime (its `Max-Age` or `Expires`, RFC 6265 §5.3) ends, in ms since the
   * epoch; absent: it lives as long as the client. From then on it is not sent.
   */
  readonly cookieExpiresAt?: number
}

/**
 * The longest token sent as `Authorization: Bearer`: 8 KiB, what common proxies take in one
 * header line (nginx's default buffer), and half of the KBS's and Node's default 16 KiB for all
 * headers. A longer one would be refused (431) before the KBS reads it.
 */
export const MAX_BEARER_TOKEN_LENGTH: number = 8 * 1024

/**
 * How a resource request proves the session: the Bearer token, or the cookie for a long token
 * while the cookie lives. A cookie past its lifetime is not sent (RFC 6265 §5.3: the user agent
 * evicts it), as CoCo's client's cookie store would not: the Bearer token is then the one
 * credential left, and a KBS that refuses it with 401 gets a new handshake.
 */
function resourceCredentials(
  session: KbsSession,
  now: number,
): { readonly cookie?: string; readonly authorization?: string } {
  const cookieLives =
    session.cookie !== undefined &&
    (session.cookieExpiresAt === undefined || now < session.cookieExpiresAt)
  return session.token.length > MAX_BEARER_TOKEN_LENGTH && cookieLives
    ? { cookie: `${KBS_SESSION_COOKIE}=${session.cookie ?? ''}` }
    : { authorization: `Bearer ${session.token}` }
}

/**
 * The session cookie the `/auth` answer sets, or `ERR_KBS_SESSION_COOKIE` when it sets none and
 * `ERR_KBS_SESSION_DELETED` when it deletes it: the `/attest` that follows is tied to the
 * challenge by that cookie alone, so without it the evidence could only be refused.
 */
function authCookie(
  update: SessionCookieUpdate | undefined,
): Extract<SessionCookieUpdate, { deleted: false }> {
  if (update === undefined)
    throw cookieError(`the KBS answered /kbs/v0/auth without a usable ${KBS_SESSION_COOKIE} cookie`)
  if (!update.deleted) return update
  throw new MalformedInputError(
    'ERR_KBS_SESSION_DELETED',
    `the KBS answered /kbs/v0/auth with a Set-Cookie that deletes the ${KBS_SESSION_COOKIE} cookie (Max-Age of 0 or less, or Expires in the past), so no /attest could be tied to its challenge`,
    {
      hint: "the KBS ended the session it was starting: check its session timeout (an Expires not after its own Date header, or in the guest's past when it sends no Date), or a proxy that rewrites cookies",
    },
  )
}

const MAX_CHALLENGE_BYTES = 64 * 1024
const MAX_TOKEN_BYTES = 4 * 1024 * 1024

/** An RCAR 0.4.0 client for one KBS (see the module comment). */
export class KbsClient {
  readonly #base: URL
  /** Where a cookie set on the answer to `/auth`, and to `/attest`, is kept and sent. */
  readonly #cookieScopes: Readonly<Record<'auth' | 'attest', SessionCookieScope>>
  readonly #posts: HttpClient
  readonly #gets: HttpClient
  readonly #maxResourceBytes: number
  #session: KbsSession | undefined
  #attestWith: KbsAttestOptions | undefined

  /**
   * @throws {@link UsageError} `ERR_KBS_URL` for a URL that is not http(s), or plain http with a
   *   TLS option; `ERR_KBS_OPTION` for a limit or timeout that is not a positive whole number; {@link MalformedInputError} `ERR_TLS_CERTIFICATE_INVALID` for bad PEM.
   */
  constructor(options: KbsClientOptions) {
    let base: URL
    try {
      base = new URL(options.url)
    } catch {
      throw urlError('is not a URL')
    }
    if (base.protocol !== 'https:' && base.protocol !== 'http:') throw urlError('is not http(s)')
    const tls = options.tls
    const hasTls = tls?.pinnedCertificatePem !== undefined || tls?.caPem !== undefined
    if (base.protocol === 'http:' && hasTls)
      throw urlError('is plain http, so its pinned or CA certificate would not be used')
    if (base.search !== '' || base.hash !== '') throw urlError('has a query or fragment')
    this.#base = new URL(base.href.replace(/\/*$/, '/'))
    this.#cookieScopes = {
      auth: cookieScope(this.#base, 'auth', ['attest']),
      attest: cookieScope(this.#base, 'attest', []),
    }
    const timeoutMs = positiveOption(options, 'timeoutMs', 60_000, 'milliseconds')
    const common = {
      timeoutMs,
      totalTimeoutMs: positiveOption(options, 'totalTimeoutMs', timeoutMs, 'milliseconds'),
      // Past the total timeout: ERR_KBS_DEADLINE, told apart from a KBS that is down or said 503
      // (ERR_KBS_UNAVAILABLE, ERR_KBS_STATUS).
      errors: httpErrors({
        area: 'KBS',
        hints: {
          deadline:
            'the KBS or the network is too slow, or sends its answer a little at a time; check the KBS and ask again (a client given timeoutMs or totalTimeoutMs waits longer)',
        },
      }),
      userAgent: 'initguard-kbs-client',
      // Trustee never redirects. Following one would take the resource from a host the guest was
      // never given (trusted through the CA bundle or Node's roots, not this configuration), and
      // the JWE proves nothing about its source: anybody can seal to the public TEE key.
      maxRedirects: 0,
      ...(base.protocol === 'https:' && tls !== undefined ? { tls } : {}),
    }
    // /auth and /attest are not repeated: a nonce is single use, so a retry could only fail.
    this.#posts = new HttpClient({ ...common, attempts: 1 })
    this.#gets = new HttpClient({ ...common, attempts: 3 })
    this.#maxResourceBytes = positiveOption(options, 'maxResourceBytes', 16 * 1024 * 1024, 'bytes')
    this.#session = options.session
  }

  /** The current session, if attested. */
  get session(): KbsSession | undefined {
    return this.#session
  }

  /**
   * Run the handshake: `/auth`, evidence for the bound REPORT_DATA, `/attest` with the session
   * cookie. Remembers `options` to attest again when a resource request gets 401.
   *
   * @throws the server's coded errors (`ERR_KBS_UNAUTHORIZED` …, with status, type, detail),
   *   `ERR_KBS_MESSAGE_INVALID` for a malformed response, `ERR_KBS_<network kind>`.
   */
  async attest(options: KbsAttestOptions): Promise<KbsSession> {
    const teeKey = options.teeKey ?? (await generateTeeKeyPair(options.teeKeyKind ?? 'P-256'))
    const request = {
      version: KBS_PROTOCOL_VERSION,
      tee: options.tee,
      // This client binds with SHA-384 only, so that is all it offers.
      'extra-params': { 'supported-hash-algorithms': ['sha384'] },
    }
    const { nonce, cookie } = await this.#post(
      'auth',
      request,
      undefined,
      options.signal,
      async (r) => ({
        nonce: parseKbsChallenge(await jsonBody(r, MAX_CHALLENGE_BYTES, '/kbs/v0/auth')).nonce,
        cookie: authCookie(sessionCookieOf(r, '/kbs/v0/auth', Date.now(), this.#cookieScopes.auth)),
      }),
    )
    const additionalEvidence = options.additionalEvidence ?? ''
    const reportData = expectedReportData({
      nonce,
      teePubkey: teeKey.publicJwk,
      additionalEvidence,
    })
    const evidence = await options.evidence(reportData)
    // Checked as the KBS will check it, so a bad evidence callback fails here, by path.
    const attestation: KbsAttestation = parseKbsAttestation({
      ...(options.initData === undefined
        ? {}
        : { 'init-data': { format: 'toml', body: options.initData } }),
      'runtime-data': { nonce, 'tee-pubkey': teeKey.publicJwk },
      'tee-evidence': { primary_evidence: evidence, additional_evidence: additionalEvidence },
    })
    // Past its lifetime the cookie is not sent (RFC 6265 §5.3), and without it the KBS cannot tie
    // this evidence to the challenge: its session ended with the cookie (Trustee's does).
    if (cookie.expiresAt !== undefined && Date.now() >= cookie.expiresAt)
      throw new UnavailableError(
        'ERR_KBS_SESSION_EXPIRED',
        `the ${KBS_SESSION_COOKIE} cookie from /kbs/v0/auth expired at ${new Date(cookie.expiresAt).toISOString()}, before the evidence was ready to send to /kbs/v0/attest`,
        {
          hint: "make the evidence within the KBS's session timeout (Trustee's default is 5 minutes), or raise that timeout",
        },
      )
    const { token, update } = await this.#post(
      'attest',
      attestation,
      cookie.value,
      options.signal,
      async (r) => ({
        ...parseKbsAttestationToken(await jsonBody(r, MAX_TOKEN_BYTES, '/kbs/v0/attest')),
        // Trustee sets the cookie again here; a KBS may also delete it, or give it a new lifetime.
        update:
          sessionCookieOf(r, '/kbs/v0/attest', Date.now(), this.#cookieScopes.attest) ?? cookie,
      }),
    )
    this.#session = update.deleted
      ? { token, teeKey }
      : {
          token,
          teeKey,
          cookie: update.value,
          ...(update.expiresAt === undefined ? {} : { cookieExpiresAt: update.expiresAt }),
        }
    this.#attestWith = { ...options, teeKey }
    return this.#session
  }

  /**
   * The plaintext of the resource `repo/type/tag`, requested with the Bearer token (or, for a
   * token too long for a header, the session cookie) and decrypted with the TEE key. On 401,
   * attests again once (when it can) and retries, unless `retryUnauthorized` is false: then the
   * 401 is thrown (`ERR_KBS_UNAUTHORIZED`), for a caller that shares one re-handshake between
   * concurrent requests. Such a caller says `reattested` when it asks again after its own new
   * handshake: then no further handshake runs here, and a 431 that persists is told as
   * `ERR_KBS_TOKEN_TOO_LONG`, not as another `ERR_KBS_UNAUTHORIZED` that would send it round
   * again.
   *
   * @throws {@link UsageError} `ERR_KBS_NOT_ATTESTED` before any session; `ERR_KBS_RESOURCE_PATH`;
   *   the server's coded errors; `ERR_KBS_RESOURCE_DECRYPT` for a response that does not open;
   *   {@link UnavailableError} `ERR_KBS_TOKEN_TOO_LONG` for a 431 after a new handshake.
   */
  async getResource(
    path: string,
    options: {
      readonly signal?: AbortSignal
      readonly retryUnauthorized?: boolean
      readonly reattested?: boolean
    } = {},
  ): Promise<Uint8Array> {
    const route = `/kbs/v0/resource/${resourcePath(path)}`
    const url = new URL(route.slice(1), this.#base)
    for (let handshakes = 0; ; handshakes++) {
      const session = this.#session
      if (session === undefined)
        throw new UsageError('ERR_KBS_NOT_ATTESTED', 'cannot get a resource before attesting', {
          hint: 'call attest() first, or give the client a session',
        })
      // After a new handshake, here or the caller's own (`reattested`), none is run again.
      const reattested = handshakes > 0 || options.reattested === true
      const again =
        !reattested && options.retryUnauthorized !== false ? this.#attestWith : undefined
      const headers = resourceCredentials(session, Date.now())
      // A token too long for a header, sent because the cookie expired or was deleted: a KBS whose
      // request head cannot hold it answers 431, not 401, and only a new handshake (a new cookie)
      // gets past that, as a 401 would.
      const tooLong =
        headers.authorization !== undefined && session.token.length > MAX_BEARER_TOKEN_LENGTH
      const outcome = await this.#gets.request(
        {
          url,
          headers,
          what: `get resource ${path} from the KBS`,
          ...(options.signal === undefined ? {} : { signal: options.signal }),
        },
        async (r) => {
          if ((r.status === 401 || (r.status === 431 && tooLong)) && again !== undefined) {
            await r.discard()
            return { again }
          }
          if (r.status === 431 && tooLong) {
            await r.discard()
            if (reattested) throw tokenTooLong(path, session)
            throw new VerificationError(
              'ERR_KBS_UNAUTHORIZED',
              `cannot get resource ${path}: the ${KBS_SESSION_COOKIE} cookie expired or was deleted, and the KBS cannot read the token (${String(session.token.length)} characters) as a header (HTTP 431)`,
              {
                details: { status: 431 },
                hint: 'attest again: a new handshake gives a new session cookie, which stands for the token',
              },
            )
          }
          if (r.status !== 200) throw await kbsResponseError(r, `get resource ${path}`, route)
          return { jwe: await jsonBody(r, this.#maxResourceBytes, route) }
        },
      )
      if ('jwe' in outcome) return openResource(session.teeKey.privateKey, outcome.jwe)
      // The token expired or the KBS forgot it: one new handshake, with the same key.
      await this.attest(outcome.again)
    }
  }

  async #post<T>(
    endpoint: 'auth' | 'attest',
    body: unknown,
    cookie: string | undefined,
    signal: AbortSignal | undefined,
    read: (response: HttpResponse) => Promise<T>,
  ): Promise<T> {
    const what = `${endpoint === 'auth' ? 'start a session with' : 'attest to'} the KBS`
    return this.#posts.request(
      {
        method: 'POST',
        url: new URL(`kbs/v0/${endpoint}`, this.#base),
        headers: {
          'content-type': 'application/json',
          ...(cookie === undefined ? {} : { cookie: `${KBS_SESSION_COOKIE}=${cookie}` }),
        },
        body: new TextEncoder().encode(JSON.stringify(body)),
        what,
        ...(signal === undefined ? {} : { signal }),
      },
      async (r) => {
        if (r.status !== 200) throw await kbsResponseError(r, what, `/kbs/v0/${endpoint}`)
        return read(r)
      },
    )
  }
}

/**
 * Where a cookie set on the answer to `endpoint` is kept and sent: the KBS URL `base`, and the
 * routes under it the cookie goes to from then on (`also`, and every resource, `…/kbs/v0/resource/`).
 */
function cookieScope(
  base: URL,
  endpoint: 'auth' | 'attest',
  also: readonly 'attest'[],
): SessionCookieScope {
  const at = (route: string): string => new URL(`kbs/v0/${route}`, base).pathname
  return {
    base,
    requestPath: at(endpoint),
    sentTo: [...also.map(at), at('resource/')],
  }
}

/**
 * `ERR_KBS_TOKEN_TOO_LONG`: a 431 for the Bearer token after a new handshake. The handshake was
 * the one way past it (a new cookie to send instead), and it brought none that lives, so this KBS
 * cannot serve this client: an upstream failure, not a refused authorization (which would be
 * `ERR_KBS_UNAUTHORIZED`, and makes a caller attest again).
 */
function tokenTooLong(path: string, session: KbsSession): UnavailableError {
  const cookie =
    session.cookie === undefined
      ? `the KBS deleted the ${KBS_SESSION_COOKIE} cookie on /kbs/v0/attest (or never set one)`
      : `the ${KBS_SESSION_COOKIE} cookie had expired`
  return new UnavailableError(
    'ERR_KBS_TOKEN_TOO_LONG',
    `cannot get resource ${path}: the KBS cannot read the token (${String(session.token.length)} characters) as a request header (HTTP 431 Request Header Fields Too Large), even after a new handshake: ${cookie}, so the token is the one credential left to send`,
    {
      details: { status: 431, tokenLength: session.token.length },
      hint: `the KBS must keep the ${KBS_SESSION_COOKIE} cookie after /kbs/v0/attest for as long as its token lives (as Trustee does), or it and any proxy in front of it must accept request headers this long (Node's --max-http-header-size, nginx's large_client_header_buffers); a smaller init-data makes a shorter token, since the KBS copies its [data] into it`,
    },
  )
}

/** Node's longest timer, in ms. */
const MAX_TIMER_MS = 2 ** 31 - 1

/**
 * A limit or timeout option as a positive safe integer, or `ERR_KBS_OPTION` here. Unchecked, a
 * `maxResourceBytes` of NaN, 1.5 or -1 was taken, and every resource request then went out, token
 * and all, before failing with a bare RangeError from the body reader.
 */
function positiveOption(
  options: KbsClientOptions,
  name: 'timeoutMs' | 'totalTimeoutMs' | 'maxResourceBytes',
  fallback: number,
  unit: string,
): number {
  const value = options[name] ?? fallback
  // A timeout past Node's longest timer (2^31 - 1 ms) would be cut to 1 ms by setTimeout.
  const most = name === 'maxResourceBytes' ? Number.MAX_SAFE_INTEGER : MAX_TIMER_MS
  if (Number.isSafeInteger(value) && value > 0 && value <= most) return value
  throw new UsageError(
    'ERR_KBS_OPTION',
    `the KBS client option ${name} is ${String(value)}, not a positive whole number of ${unit} up to ${String(most)}`,
    { details: { option: name }, hint: `give ${name} as a whole number above 0, or leave it out` },
  )
}

function urlError(problem: string): UsageError {
  return new UsageError('ERR_KBS_URL', `the KBS URL ${problem}`, {
    hint: 'give https://host:port (or http://host:port for a lab KBS without TLS options)',
  })
}

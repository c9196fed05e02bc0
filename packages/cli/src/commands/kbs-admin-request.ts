/**
 * How `initguard kbs admin` talks to the KBS: a short-lived admin JWT signed from `--admin-key`
 * (EdDSA for Ed25519, ES256 for P-256; `role: admin`, `aud: [<--admin-audience>]`, by default
 * Trustee's `["KBS"]`, 5 minutes), sent through the project's HTTP client, trusting only
 * `--ca FILE` when given.
 *
 * The answer is taken for what it is: a redirect is never followed (the admin API does not
 * redirect, and the token is for the URL given) nor, for a write, taken for success; a 4xx or 5xx
 * is a coded error with the KBS's detail (terminal-safe); an action that answers with a JSON object
 * gets one or fails (`ERR_KBS_ADMIN_ANSWER`). Warnings: a plain `http://` URL (the token and the
 * secrets travel unencrypted), and an admin private key that others may read.
 *
 * @module
 */
import { createPrivateKey, sign, type KeyObject } from 'node:crypto'
import { stat } from 'node:fs/promises'
import {
  MalformedInputError,
  UnavailableError,
  UsageError,
  VerificationError,
} from '@initguard/core'
import { readInput } from '@initguard/files'
import { HttpClient, httpErrors, redactUrl } from '@initguard/http'
import { DEFAULT_ADMIN_AUDIENCE } from '@initguard/kbs-protocol'
import { terminalSafe } from './terminal-safe.ts'
import { readCertificateOption } from './certificate-option.ts'

/** Where and as whom the admin commands talk. */
export interface KbsAdminTarget {
  readonly url: string
  readonly client: HttpClient
  readonly key: KeyObject
  readonly algorithm: 'EdDSA' | 'ES256'
  /** The KBS's admin audience: the tokens' `aud`. */
  readonly audience: string
  /** What the operator should know before anything is sent (plain HTTP, a readable key). */
  readonly warnings: readonly string[]
}

const KBS_ERRORS = httpErrors({
  area: 'KBS',
  hints: {
    deadline:
      'the KBS at --url or the network is too slow, or sends its answer a little at a time (each kbs admin call may take 120 s in all; no option changes that): check the KBS and run the command again',
  },
})

/**
 * How long one admin call may take in all (connecting, the answer's headers and its whole body):
 * 120 s. The 30 s timeout bounds only each stall, so without it a KBS, or anything at --url,
 * trickling a byte just inside every stall would hold the command for ever (a 16 MiB answer at
 * one byte every 29 s is 15 years).
 */
export const KBS_ADMIN_TOTAL_TIMEOUT_MS = 120_000

/** Timing of the admin client; the defaults are the command's, tests make them short. */
export interface KbsAdminTiming {
  /** The longest wait for the headers and the longest stall in the body; default 30 s. */
  readonly timeoutMs?: number
  /** The whole call; default {@link KBS_ADMIN_TOTAL_TIMEOUT_MS}. Past it: `ERR_KBS_DEADLINE`. */
  readonly totalTimeoutMs?: number
}

/**
 * A warning when the admin private key at `keyFile` may be read by group or others (as `ssh`
 * refuses such a key; here only said, since the KBS cannot tell): none when it cannot be checked.
 */
async function looseKeyWarning(keyFile: string): Promise<string[]> {
  if (keyFile === '-' || process.platform === 'win32') return []
  try {
    const mode = (await stat(keyFile)).mode & 0o777
    return (mode & 0o077) === 0
      ? []
      : [
          `--admin-key ${keyFile} may be read by others (mode 0${mode.toString(8)}): it signs admin tokens for every KBS that trusts its public key; chmod 600 ${keyFile}`,
        ]
  } catch {
    return []
  }
}

/**
 * Read the admin private key and the CA, and make the client; tokens for `audience`. Each call has
 * a total deadline ({@link KBS_ADMIN_TOTAL_TIMEOUT_MS}), not only the per-stall timeout.
 */
export async function kbsAdminTarget(
  url: string,
  keyFile: string,
  caFile: string | undefined,
  audience: string = DEFAULT_ADMIN_AUDIENCE,
  timing: KbsAdminTiming = {},
): Promise<KbsAdminTarget> {
  const pem = new TextDecoder().decode(
    await readInput(keyFile, { what: 'admin private key', maxSize: 64 * 1024 }),
  )
  let key: KeyObject
  try {
    key = createPrivateKey(pem)
  } catch (cause) {
    // An encrypted key is one, but this command reads no passphrase: say so, and how.
    const encrypted =
      /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem) ||
      (cause as { code?: unknown } | null)?.code === 'ERR_MISSING_PASSPHRASE'
    throw new MalformedInputError(
      'ERR_KBS_ADMIN_KEY',
      encrypted
        ? `--admin-key ${keyFile} is an encrypted private key, and kbs admin reads no passphrase`
        : `--admin-key ${keyFile} is not a PEM private key`,
      {
        cause,
        hint: encrypted
          ? 'give it decrypted, kept 0600 (openssl pkey -in ENCRYPTED.key -out admin.key), or store it in a secret manager that hands it over decrypted'
          : '`initguard kbs keygen` makes an admin key pair',
      },
    )
  }
  const curve = key.asymmetricKeyDetails?.namedCurve
  const algorithm =
    key.asymmetricKeyType === 'ed25519'
      ? 'EdDSA'
      : key.asymmetricKeyType === 'ec' && curve === 'prime256v1'
        ? 'ES256'
        : undefined
  if (algorithm === undefined)
    throw new MalformedInputError(
      'ERR_KBS_ADMIN_KEY',
      `--admin-key ${keyFile}: only Ed25519 (EdDSA) and P-256 (ES256) keys sign admin tokens`,
      { hint: '`initguard kbs keygen` makes an Ed25519 admin key pair' },
    )
  if (caFile !== undefined && !url.startsWith('https:'))
    throw new UsageError('ERR_USAGE', '--ca applies to an https:// --url', {
      hint: 'drop --ca, or use the https URL',
    })
  const ca = caFile === undefined ? undefined : await readCertificateOption('--ca', caFile)
  const client = new HttpClient({
    attempts: 1,
    timeoutMs: timing.timeoutMs ?? 30_000,
    totalTimeoutMs: timing.totalTimeoutMs ?? KBS_ADMIN_TOTAL_TIMEOUT_MS,
    // The admin API never redirects: a redirect is reported, not followed with the token.
    maxRedirects: 0,
    errors: KBS_ERRORS,
    ...(ca === undefined ? {} : { tls: { caPem: ca } }),
  })
  const warnings = [
    ...(url.startsWith('http:')
      ? [
          'plain HTTP (--url http://…): the admin token, and any secret or definition sent, travel unencrypted; use the https URL with --ca',
        ]
      : []),
    ...(await looseKeyWarning(keyFile)),
  ]
  return { url: url.replace(/\/+$/, ''), client, key, algorithm, audience, warnings }
}

/**
 * A compact JWS (RFC 7515) admin token for the target's audience (default Trustee's `KBS`);
 * signed with node:crypto (the CLI does not depend on jose).
 */
export function adminToken(
  target: Pick<KbsAdminTarget, 'key' | 'algorithm'> & Partial<Pick<KbsAdminTarget, 'audience'>>,
  now: Date,
): string {
  const iat = Math.floor(now.getTime() / 1000)
  const part = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')
  const aud = [target.audience ?? DEFAULT_ADMIN_AUDIENCE]
  const claims = { role: 'admin', sub: 'initguard-cli', aud, iat, exp: iat + 300 }
  const input = `${part({ alg: target.algorithm, typ: 'JWT' })}.${part(claims)}`
  const signature =
    target.algorithm === 'EdDSA'
      ? sign(null, Buffer.from(input), target.key)
      : sign('sha256', Buffer.from(input), { key: target.key, dsaEncoding: 'ieee-p1363' })
  return `${input}.${signature.toString('base64url')}`
}

/** One admin call's answer: the status and the body (JSON when it is JSON). */
export interface KbsAdminAnswer {
  readonly status: number
  readonly body: unknown
}

/**
 * Send one admin request. A 4xx/5xx answer in the KBS's `{type, detail}` shape becomes a coded
 * error: 400 usage (exit 2), 401/403 verification (4), 404 malformed input naming the object (3),
 * 5xx unavailable (6); except a status in `answered`, which the caller reads itself.
 */
export async function kbsAdminCall(
  target: KbsAdminTarget,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  body?: { readonly bytes: Uint8Array; readonly type: string },
  answered: readonly number[] = [],
): Promise<KbsAdminAnswer> {
  const headers: Record<string, string> = {
    authorization: `Bearer ${adminToken(target, new Date())}`,
  }
  if (body !== undefined) headers['content-type'] = body.type
  return target.client.request(
    {
      method,
      url: `${target.url}${path}`,
      headers,
      ...(body === undefined ? {} : { body: body.bytes }),
      what: `${method} ${path} on the KBS`,
    },
    async (response) => {
      const text = await response.text({ maxBytes: 16 * 1024 * 1024 })
      let parsed: unknown = text
      try {
        parsed = text === '' ? undefined : JSON.parse(text)
      } catch {
        // Not JSON: keep the text.
      }
      if (response.status >= 300 && response.status < 400)
        throw KBS_ERRORS({
          kind: 'redirect',
          what: `${method} ${path} on the KBS`,
          url: redactUrl(new URL(`${target.url}${path}`)),
          reason: `the KBS answered ${String(response.status)} (a redirect${redirectTarget(response.headers.get('location'))}): the admin API does not redirect, so nothing was done; give --url the KBS's own URL`,
          status: response.status,
          attempts: 1,
        })
      if (response.status >= 400 && !answered.includes(response.status))
        throw kbsRefusal(method, path, response.status, parsed)
      return { status: response.status, body: parsed }
    },
  )
}

/** ` to <where>`, redacted and terminal-safe, when the redirect says. */
function redirectTarget(location: string | null): string {
  if (location === null || !URL.canParse(location)) return ''
  return ` to ${terminalSafe(redactUrl(new URL(location)))}`
}

/**
 * The body of an action's answer that is a JSON object (a list, a stored workload, the new key
 * id), checked to be one: a 2xx without it (empty, HTML from a proxy, another service at --url)
 * is refused rather than shown as the result.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_ADMIN_ANSWER` (exit 3).
 */
export function jsonObjectAnswer(
  method: string,
  path: string,
  answer: KbsAdminAnswer,
): Record<string, unknown> {
  const { body, status } = answer
  if (typeof body === 'object' && body !== null && !Array.isArray(body))
    return body as Record<string, unknown>
  throw new MalformedInputError(
    'ERR_KBS_ADMIN_ANSWER',
    `the KBS answered ${method} ${path} with ${String(status)} but ${body === undefined ? 'no body' : 'not a JSON object'}: the admin API answers this with one`,
    {
      details: { status },
      hint: 'check that --url is the KBS itself (not a proxy or another service), and that the KBS and this CLI are of the same version',
    },
  )
}

function kbsRefusal(method: string, path: string, status: number, body: unknown): Error {
  const { type, detail, code } = (typeof body === 'object' && body !== null ? body : {}) as Record<
    string,
    unknown
  >
  // The KBS's words, cut and terminal-safe: they end up on the operator's terminal.
  const variant =
    typeof type === 'string' ? terminalSafe(type.split('/').at(-1) ?? '').slice(0, 64) : undefined
  const said = typeof detail === 'string' ? `: ${terminalSafe(detail.slice(0, 2000))}` : ''
  const message = `the KBS refused ${method} ${path}: ${status} ${variant ?? ''}${said}`
  // The KBS's own code for a refusal that has one (an audit prune's), for scripts.
  const kbsCode = typeof code === 'string' && /^ERR_[A-Z0-9_]{1,64}$/.test(code) ? code : undefined
  const options = {
    details: {
      status,
      ...(variant === undefined ? {} : { variant }),
      ...(kbsCode === undefined ? {} : { kbsCode }),
    },
  }
  if (status >= 500) return new UnavailableError('ERR_KBS_ADMIN_SERVER', message, options)
  if (status === 401 || status === 403)
    return new VerificationError('ERR_KBS_ADMIN_REFUSED', message, {
      ...options,
      hint: "check --admin-key (its public key must be one the KBS was started with) and --admin-audience (it must be the KBS's admin audience; without it, KBS)",
    })
  if (status === 404) return new MalformedInputError('ERR_KBS_ADMIN_NOT_FOUND', message, options)
  return new UsageError('ERR_KBS_ADMIN_REQUEST', message, options)
}

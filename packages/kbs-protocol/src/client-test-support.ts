/**
 * A small RCAR 0.4.0 peer for the client's tests, on loopback https (node:https) or http: it reads
 * requests with this package's parsers, issues a nonce and a `kbs-session-id` cookie, checks that
 * the SNP evidence's REPORT_DATA binds the nonce and the TEE key (not its signature: appraisal is
 * the KBS's job), issues a JWT, and seals resources with `sealResource`. It is test support for
 * the client, not a KBS; and certificates for it (self-signed, or issued by a test CA).
 *
 * @module
 */
import { X509Certificate, createPrivateKey, generateKeyPairSync, randomBytes } from 'node:crypto'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import { bytesToHex } from '@initguard/core'
import {
  X509_EXTENSION_OID,
  X509_NAME_OID,
  buildX509Certificate,
  derSequence,
  derTlv,
  derToPem,
  encodeBasicConstraints,
} from '@initguard/tee-simulator'
import { SignJWT } from 'jose'
import { KBS_ERROR_TYPE_PREFIX, type TeePublicJwk } from './messages.ts'
import { parseKbsAttestation, parseKbsRequest } from './message-parse.ts'
import { expectedReportData } from './report-data-binding.ts'
import { sealResource } from './resource-jwe.ts'

/** A PEM certificate and key. */
export interface TestCertificate {
  readonly cert: string
  readonly key: string
}

/** A certificate for 127.0.0.1: self-signed, a CA (`ca`), or issued by `issuer`. */
export function testCertificate(
  options: { issuer?: TestCertificate; ca?: boolean } = {},
): TestCertificate {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const cn = options.ca === true ? 'Test KBS CA' : '127.0.0.1'
  const issuerCn =
    options.issuer === undefined ? cn : new X509Certificate(options.issuer.cert).subject.slice(3)
  const ipAddress = derTlv(
    { tagClass: 'context', tagNumber: 7, constructed: false },
    Uint8Array.of(127, 0, 0, 1),
  )
  const extension =
    options.ca === true
      ? {
          oid: X509_EXTENSION_OID.basicConstraints,
          critical: true,
          value: encodeBasicConstraints({ ca: true }),
        }
      : { oid: '2.5.29.17' /* subjectAltName */, value: derSequence([ipAddress]) }
  const der = buildX509Certificate(
    {
      serialNumber: BigInt(`0x${bytesToHex(randomBytes(8))}`),
      issuer: [{ oid: X509_NAME_OID.commonName, value: issuerCn }],
      subject: [{ oid: X509_NAME_OID.commonName, value: cn }],
      notBefore: new Date(hour - 3_600_000),
      notAfter: new Date(hour + 86_400_000),
      publicKey: privateKey,
      extensions: [extension],
      signatureAlgorithm: 'ecdsa-sha256',
    },
    options.issuer === undefined ? privateKey : createPrivateKey(options.issuer.key),
  )
  return {
    cert: derToPem(der),
    key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  }
}

/** A running test peer. */
export interface TestKbs {
  readonly origin: string
  /** `METHOD path cookie=<id|-> bearer=<yes|->` per request. */
  readonly log: string[]
  /** Resources by `repo/type/tag`. */
  readonly resources: Map<string, Uint8Array>
  /** The init-data bodies received by /attest (`null` when none was sent). */
  readonly initData: (string | null)[]
  /** An error to answer the next request on a path prefix with (used once). */
  failNext(pathPrefix: string, status: number, variant: string, detail: string): void
  /** Answer the next request on a path prefix with a 302 to `location` (used once). */
  redirectNext(pathPrefix: string, location: string): void
  /** Forget every token, so the next resource request gets 401. */
  revokeTokens(): void
  /**
   * The claims of the tokens issued from now on, exactly (`iat` and `exp` included: none is
   * added), from the time of issue in whole seconds; default `{ exp: now + 300 }`.
   */
  tokenClaims: (nowSeconds: number) => Record<string, unknown>
  close(): Promise<void>
}

function send(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): ServerResponse {
  res
    .writeHead(status, { 'content-type': 'application/json', ...headers })
    .end(JSON.stringify(body))
  return res
}

function failure(
  res: ServerResponse,
  status: number,
  variant: string,
  detail: string,
): ServerResponse {
  return send(res, status, { type: `${KBS_ERROR_TYPE_PREFIX}${variant}`, detail })
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const parts: Buffer[] = []
  for await (const part of req) parts.push(part as Buffer)
  return JSON.parse(Buffer.concat(parts).toString()) as unknown
}

/** Start the peer; https with `tls`, plain http without. */
export async function startTestKbs(tls?: TestCertificate): Promise<TestKbs> {
  const sessions = new Map<string, string>()
  const tokens = new Map<string, TeePublicJwk>()
  const signer = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey
  const failures: { prefix: string; status: number; variant: string; detail: string }[] = []
  const redirects: { prefix: string; location: string }[] = []
  const state = {
    log: [] as string[],
    resources: new Map<string, Uint8Array>(),
    initData: [] as (string | null)[],
  }
  const cookieOf = (req: IncomingMessage): string | undefined =>
    /(?:^|;\s*)kbs-session-id=([0-9a-f]{32})/.exec(req.headers.cookie ?? '')?.[1]
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<ServerResponse> => {
    const path = req.url ?? ''
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
    state.log.push(
      `${req.method ?? ''} ${path} cookie=${cookieOf(req) ?? '-'} bearer=${bearer === undefined ? '-' : 'yes'}`,
    )
    const planned = failures.findIndex((f) => path.startsWith(f.prefix))
    if (planned >= 0) {
      const [f] = failures.splice(planned, 1)
      if (f !== undefined) return failure(res, f.status, f.variant, f.detail)
    }
    const redirect = redirects.findIndex((r) => path.startsWith(r.prefix))
    if (redirect >= 0) {
      const [r] = redirects.splice(redirect, 1)
      if (r !== undefined) return res.writeHead(302, { location: r.location }).end()
    }
    if (req.method === 'POST' && path === '/kbs/v0/auth') {
      parseKbsRequest(await readJson(req))
      const id = bytesToHex(randomBytes(16))
      const nonce = randomBytes(32).toString('base64')
      sessions.set(id, nonce)
      return send(
        res,
        200,
        { nonce, 'extra-params': '' },
        {
          // Secure over https, as this project's KBS sets it; none over plain http, as Trustee.
          'set-cookie': `kbs-session-id=${id}; Expires=${new Date(Date.now() + 300_000).toUTCString()}${tls === undefined ? '' : '; Secure'}`,
        },
      )
    }
    if (req.method === 'POST' && path === '/kbs/v0/attest') {
      const nonce = sessions.get(cookieOf(req) ?? '')
      if (nonce === undefined)
        return failure(res, 401, 'AttestationError', 'no session: call /auth first')
      const attestation = parseKbsAttestation(await readJson(req))
      const runtime = attestation['runtime-data']
      const evidence = attestation['tee-evidence'].primary_evidence as {
        attestation_report?: { report_data?: number[] }
      }
      const bound = expectedReportData({
        nonce,
        teePubkey: runtime['tee-pubkey'],
        additionalEvidence: attestation['tee-evidence'].additional_evidence,
      })
      if (
        runtime.nonce !== nonce ||
        bytesToHex(Uint8Array.from(evidence.attestation_report?.report_data ?? [])) !==
          bytesToHex(bound)
      )
        return failure(res, 401, 'AttestationError', 'REPORT_DATA does not bind the nonce and key')
      state.initData.push(attestation['init-data']?.body ?? null)
      const token = await new SignJWT(peer.tokenClaims(Math.floor(Date.now() / 1000)))
        .setProtectedHeader({ alg: 'ES256' })
        .sign(signer)
      tokens.set(token, runtime['tee-pubkey'])
      return send(res, 200, { token })
    }
    const resource = /^\/kbs\/v0\/resource\/(.+)$/.exec(path)?.[1]
    if (req.method === 'GET' && resource !== undefined) {
      const key = tokens.get(bearer ?? '')
      if (key === undefined) return failure(res, 401, 'TokenVerifierError', 'no valid token')
      const plaintext = state.resources.get(resource)
      if (plaintext === undefined)
        return failure(res, 404, 'PluginInternalError', `no resource ${resource}`)
      return send(res, 200, await sealResource(key, plaintext))
    }
    return failure(res, 404, 'InvalidRequestPath', 'no such endpoint')
  }
  const listener = (req: IncomingMessage, res: ServerResponse): void => {
    handle(req, res).catch((error: unknown) => {
      failure(res, 400, 'SerdeError', error instanceof Error ? error.message : String(error))
    })
  }
  const server = tls === undefined ? createHttpServer(listener) : createHttpsServer(tls, listener)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  const peer: TestKbs = {
    tokenClaims: (nowSeconds) => ({ exp: nowSeconds + 300 }),
    origin: `${tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    ...state,
    failNext: (prefix, status, variant, detail) =>
      failures.push({ prefix, status, variant, detail }),
    redirectNext: (prefix, location) => redirects.push({ prefix, location }),
    revokeTokens: () => {
      tokens.clear()
    },
    close: async () => {
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
  return peer
}

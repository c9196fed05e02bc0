/**
 * The KBS's HTTP API with mutated requests: `/auth` bodies; `/attest` bodies whose evidence is made
 * by the simulator for the mutated runtime data after a real `/auth` (so mutations get past the
 * nonce binding into appraisal), then the resource with the token; admin requests with a valid
 * admin token; raw requests (method, path, headers, body) without one. A failure is a 5xx other
 * than 503, a connection the server broke, or no answer within the per-input limit.
 *
 * @module
 */
import { parseInitdata } from '@initguard/initdata'
import { expectedReportData, type RuntimeDataToBind } from '@initguard/kbs-protocol'
import { loadSimulator, simulateSnpEvidence, simulateTdxEvidence } from '@initguard/tee-simulator'
import { jsonOf, madeSeed } from '../corpus.ts'
import type { FuzzSeed, FuzzTarget } from '../engine.ts'
import { HTTP_DOCUMENT, startFuzzKbs } from './http-kbs.ts'
import { send, type RawRequest } from './http-send.ts'

/** The string member `name` of the JSON object in `text`, or '' . */
function stringMember(text: string, name: string): string {
  const value = jsonOf(new TextEncoder().encode(text))
  const member: unknown =
    typeof value === 'object' && value !== null
      ? (value as Record<string, unknown>)[name]
      : undefined
  return typeof member === 'string' ? member : ''
}

/** Replace the placeholders `$NONCE` and `$PRIMARY_SNP` / `$PRIMARY_TDX` anywhere in `value`. */
function fill(value: unknown, nonce: string, evidence: (tee: 'snp' | 'tdx') => unknown): unknown {
  if (value === '$NONCE') return nonce
  if (value === '$PRIMARY_SNP') return evidence('snp')
  if (value === '$PRIMARY_TDX') return evidence('tdx')
  if (Array.isArray(value)) return value.map((item) => fill(item, nonce, evidence))
  if (typeof value === 'object' && value !== null)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fill(v, nonce, evidence)]))
  return value
}

/** `value` when it is a JSON object, else an empty one. */
function objectOf(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {}
}

/**
 * What the guest would bind: the mutated runtime data, or zeros when it is not the shape a guest
 * binds (no guest would). The shape is checked here rather than by catching what the binding
 * throws, so that an untyped error from the binding is a failure, not zeros.
 */
function reportDataFor(attestation: Record<string, unknown>, nonce: string): Uint8Array {
  const runtime = objectOf(attestation['runtime-data'])
  const bind = {
    nonce: runtime['nonce'] === '$NONCE' ? nonce : runtime['nonce'],
    teePubkey: runtime['tee-pubkey'],
    additionalEvidence: objectOf(attestation['tee-evidence'])['additional_evidence'] ?? '',
  }
  const bindable =
    typeof bind.nonce === 'string' &&
    typeof bind.additionalEvidence === 'string' &&
    Object.keys(objectOf(bind.teePubkey)).length > 0
  return bindable ? expectedReportData(bind as RuntimeDataToBind) : new Uint8Array(64)
}

const TEE_KEY = {
  kty: 'EC',
  crv: 'P-256',
  alg: 'ECDH-ES+A256KW',
  x: 'bmyvDE2AD7rxlB2nBmMMKaUxNrqzO80JZL7JnTyLXro',
  y: 'tF7j8WGzdjWF1dHh8H35FPKaD4rC1MoTblscfqKUo1E',
}

function attestation(tee: 'snp' | 'tdx'): unknown {
  return {
    'init-data': { format: 'toml', body: HTTP_DOCUMENT },
    'runtime-data': { nonce: '$NONCE', 'tee-pubkey': TEE_KEY },
    'tee-evidence':
      tee === 'snp'
        ? { primary_evidence: '$PRIMARY_SNP', additional_evidence: '' }
        : { primary_evidence: '$PRIMARY_TDX', additional_evidence: '' },
  }
}

export const httpTarget: FuzzTarget = {
  name: 'http',
  description:
    'the KBS HTTP API in process: /auth, /attest with simulator evidence, /resource, admin, raw',
  prepare: async ({ scratch, simulatorDir }) => {
    const simulator = await loadSimulator(simulatorDir)
    const initdata = parseInitdata(new TextEncoder().encode(HTTP_DOCUMENT))
    const { kbs, adminToken } = await startFuzzKbs(scratch, simulatorDir)
    const json = { 'content-type': 'application/json' }
    const auth = (tee: string): object => ({
      version: '0.4.0',
      tee,
      'extra-params': { 'supported-hash-algorithms': ['sha384'] },
    })
    const workload = {
      tees: ['snp'],
      initdata: [HTTP_DOCUMENT],
      resources: ['default/other/*'],
      snp: { measurements: ['00'.repeat(48)] },
    }
    const seeds: FuzzSeed[] = [
      madeSeed('auth', 'json', JSON.stringify(auth('snp')), 'RCAR request'),
      madeSeed('auth', 'json', JSON.stringify(auth('tdx')), 'RCAR request'),
      madeSeed(
        'attest',
        'json',
        JSON.stringify({ tee: 'snp', attestation: attestation('snp') }),
        'SNP attestation',
      ),
      madeSeed(
        'attest',
        'json',
        JSON.stringify({ tee: 'tdx', attestation: attestation('tdx') }),
        'TDX attestation',
      ),
      madeSeed(
        'admin',
        'json',
        JSON.stringify({
          method: 'PUT',
          path: '/kbs/v0/admin/workloads/other',
          headers: json,
          body: workload,
        }),
        'admin',
      ),
      madeSeed(
        'admin',
        'json',
        JSON.stringify({ method: 'POST', path: '/kbs/v0/resource/default/other/k', body: 'value' }),
        'admin',
      ),
      madeSeed(
        'admin',
        'json',
        JSON.stringify({ method: 'GET', path: '/kbs/v0/admin/audit?limit=5' }),
        'admin',
      ),
      madeSeed(
        'admin',
        'json',
        JSON.stringify({ method: 'GET', path: '/kbs/v0/admin/workloads/app' }),
        'admin',
      ),
      madeSeed(
        'admin',
        'json',
        JSON.stringify({ method: 'DELETE', path: '/kbs/v0/admin/workloads/other' }),
        'admin',
      ),
      madeSeed(
        'raw',
        'json',
        JSON.stringify({
          method: 'GET',
          path: '/kbs/v0/resource/default/app/key',
          headers: { authorization: 'Bearer a.b.c', cookie: 'kbs-session-id=x' },
        }),
        'raw',
      ),
      madeSeed(
        'raw',
        'json',
        JSON.stringify({
          method: 'POST',
          path: '/kbs/v0/attest',
          headers: { ...json, cookie: 'kbs-session-id=0' },
          body: {},
        }),
        'raw',
      ),
      madeSeed(
        'raw',
        'json',
        JSON.stringify({ method: 'GET', path: '/.well-known/jwks.json' }),
        'raw',
      ),
      madeSeed('raw', 'json', JSON.stringify({ method: 'GET', path: '/readyz' }), 'raw'),
    ]
    const base = kbs.url
    return {
      seeds,
      close: () => kbs.close(),
      entries: {
        auth: (input) =>
          send(base, {
            method: 'POST',
            path: '/kbs/v0/auth',
            headers: json,
            body: new TextDecoder().decode(input),
          }),
        admin: (input) => {
          const request = (jsonOf(input) ?? {}) as RawRequest
          const headers = {
            ...(typeof request.headers === 'object' ? request.headers : {}),
            authorization: `Bearer ${adminToken()}`,
          }
          return send(base, { ...request, headers })
        },
        raw: (input) => send(base, jsonOf(input) ?? {}),
        attest: async (input) => {
          const plan = (jsonOf(input) ?? {}) as { tee?: unknown; attestation?: unknown }
          const challenge = await send(base, {
            method: 'POST',
            path: '/kbs/v0/auth',
            headers: json,
            body: auth(String(plan.tee)),
          })
          const nonce = stringMember(challenge.text, 'nonce')
          const body = (
            typeof plan.attestation === 'object' && plan.attestation !== null
              ? plan.attestation
              : {}
          ) as Record<string, unknown>
          const reportData = reportDataFor(body, nonce)
          const evidence = (tee: 'snp' | 'tdx'): unknown =>
            tee === 'snp'
              ? simulateSnpEvidence(simulator.material.snp, { initdata, reportData })
              : simulateTdxEvidence(simulator.material.tdx, { initdata, reportData })
          const headers = { ...json, cookie: challenge.cookie }
          const attested = await send(base, {
            method: 'POST',
            path: '/kbs/v0/attest',
            headers,
            body: fill(body, nonce, evidence),
          })
          if (attested.status !== 200) return attested
          const token = stringMember(attested.text, 'token')
          return send(base, {
            method: 'GET',
            path: '/kbs/v0/resource/default/app/key',
            headers: { cookie: challenge.cookie, authorization: `Bearer ${token}` },
          })
        },
      },
    }
  },
}

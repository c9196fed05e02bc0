import { describe, expect, it } from 'vitest'
import { codeOf } from '@initguard/testkit'
import { DEFAULT_VERIFIER_ID } from './token-service.ts'
import { acceptedTrustVector, earClaims, earStatusOf } from './ear-claims.ts'
import type { TrustworthinessVector } from './ear-claims.ts'
import { SESSION, acceptedFor, claimsView, teeKey } from './token-test-support.ts'
import type { ClaimsView } from './token-test-support.ts'
import { readVerifiedClaims } from './verified-claims.ts'

const vector = (changes: Partial<TrustworthinessVector>): TrustworthinessVector => ({
  ...acceptedTrustVector(false),
  ...changes,
})
const issuedAt = new Date('2026-12-01T10:00:00.000Z')

async function claims(simulated = false): Promise<ClaimsView> {
  const key = await teeKey()
  return claimsView(
    earClaims({
      accepted: acceptedFor(key, simulated),
      teePubkey: key,
      issuer: 'kbs',
      verifierId: DEFAULT_VERIFIER_ID,
      issuedAt,
      lifetimeSeconds: 300,
      session: SESSION,
    }),
  )
}

describe('earStatusOf', () => {
  it('gives the worst AR4SI tier of the vector', () => {
    expect(earStatusOf(acceptedTrustVector(false))).toBe('affirming')
    expect(earStatusOf(acceptedTrustVector(true))).toBe('affirming')
    expect(earStatusOf(vector({ executables: 33 }))).toBe('warning')
    expect(earStatusOf(vector({ hardware: 97, configuration: 36 }))).toBe('contraindicated')
    expect(earStatusOf(vector({ hardware: -2 }))).toBe('contraindicated')
    expect(earStatusOf(vector({ hardware: 1.5 }))).toBe('contraindicated')
    const none = Object.fromEntries(
      Object.keys(acceptedTrustVector(false)).map((k) => [k, 0]),
    ) as unknown as TrustworthinessVector
    expect(earStatusOf(none)).toBe('none')
  })
})

describe('earClaims', () => {
  it('adds the TEE key at the path Trustee reads when the evidence did not carry it', async () => {
    const key = await teeKey()
    const accepted = acceptedFor(key)
    const bare = {
      ...accepted,
      annotatedEvidence: { ...accepted.annotatedEvidence, runtime_data_claims: { nonce: 'x' } },
    }
    const c = claimsView(
      earClaims({
        accepted: bare,
        teePubkey: key,
        issuer: 'kbs',
        verifierId: DEFAULT_VERIFIER_ID,
        issuedAt,
        lifetimeSeconds: 60,
        session: SESSION,
      }),
    )
    expect(c.submods.cpu0['ear.veraison.annotated-evidence'].runtime_data_claims).toEqual({
      nonce: 'x',
      'tee-pubkey': key,
    })
    expect(c.exp).toBe(c.iat + 60)
  })
})

describe('readVerifiedClaims', () => {
  it('reads what earClaims wrote', async () => {
    const c = await claims(true)
    expect(readVerifiedClaims(c)).toMatchObject({
      workload: 'web',
      workloadVersion: 3,
      tee: 'snp',
      simulated: true,
      session: SESSION,
    })
    expect(c.jti).toBe(SESSION)
  })

  it('refuses a status other than affirming, and missing or mistyped claims', async () => {
    const base = await claims()
    const cpu0 = base.submods.cpu0
    const annotated = cpu0['ear.veraison.annotated-evidence']
    const cases: [string, Record<string, unknown>, string][] = [
      [
        'warning',
        { ...base, submods: { cpu0: { ...cpu0, 'ear.status': 'warning' } } },
        'ERR_KBS_TOKEN_STATUS',
      ],
      ['no profile', { ...base, eat_profile: undefined }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['other profile', { ...base, eat_profile: 'x' }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['no initguard', { ...base, initguard: undefined }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['no jti', { ...base, jti: undefined }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['jti a number', { ...base, jti: 7 }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['jti upper-case', { ...base, jti: SESSION.toUpperCase() }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['jti too short', { ...base, jti: SESSION.slice(1) }, 'ERR_KBS_TOKEN_CLAIMS'],
      ['jti with a newline', { ...base, jti: `${SESSION}\n` }, 'ERR_KBS_TOKEN_CLAIMS'],
      [
        'version 0',
        { ...base, initguard: { ...base.initguard, workload: { name: 'web', version: 0 } } },
        'ERR_KBS_TOKEN_CLAIMS',
      ],
      [
        'simulated "no"',
        { ...base, initguard: { ...base.initguard, simulated: 'no' } },
        'ERR_KBS_TOKEN_CLAIMS',
      ],
      ['tee x', { ...base, initguard: { ...base.initguard, tee: 'x' } }, 'ERR_KBS_TOKEN_CLAIMS'],
      [
        'policy id of another workload',
        { ...base, submods: { cpu0: { ...cpu0, 'ear.appraisal-policy-id': 'db@3' } } },
        'ERR_KBS_TOKEN_CLAIMS',
      ],
      [
        'RSA1_5 key',
        {
          ...base,
          submods: {
            cpu0: {
              ...cpu0,
              'ear.veraison.annotated-evidence': {
                ...annotated,
                runtime_data_claims: {
                  'tee-pubkey': { kty: 'RSA', alg: 'RSA1_5', n: 'AQAB', e: 'AQAB' },
                },
              },
            },
          },
        },
        'ERR_KBS_TOKEN_CLAIMS',
      ],
      ['array', [] as unknown as Record<string, unknown>, 'ERR_KBS_TOKEN_CLAIMS'],
    ]
    for (const [name, value, code] of cases) {
      const json = JSON.parse(JSON.stringify(value)) as unknown
      expect(
        codeOf(() => readVerifiedClaims(json)),
        name,
      ).toBe(code)
    }
  })
})

/**
 * AMD's CRL on every SEV-SNP `/attest`, end to end (a real KBS, the real protocol client): the
 * CRL of the chain's product and hierarchy is fetched from KDS (a loopback stand-in counting
 * requests) with its disk cache, verified against the trusted ARK once and then answered from
 * memory; a revoked VCEK or ASK, a stale CRL and a CRL KDS cannot give are refused and audited,
 * never released. The chains here are of a test PKI the KBS is told to trust in place of AMD's
 * (`snpAnchors`): only a test can sign a CRL with the ARK. Air-gapped CRL files (`amd-crl`) and
 * the simulator's own CRL (`--trust-sim`) are checked the same way.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { stringToUtf8 } from '@initguard/core'
import { parseInitdata } from '@initguard/initdata'
import type { SnpTrustAnchors } from '@initguard/snp'
import {
  amdName,
  buildX509Crl,
  createAmdTestPki,
  defaultSnpTcb,
  simulateSnpEvidence,
  type SimulatorSnpMaterial,
} from '@initguard/tee-simulator'
import {
  rejected,
  rejectedCode,
  startLoopbackServer,
  type LoopbackServer,
} from '@initguard/testkit'
import { CRL_FAILURE_MEMORY_MS } from '../appraisal/snp-revocation.ts'
import { initdataToml, simulatorWorkload, startTestKbs, type TestKbs } from './kbs-test-support.ts'

const ACCEPTED = initdataToml('amd crl')
const HOUR = 60 * 60 * 1000
const DAY = 24 * HOUR

/** A Milan test PKI (RSA-2048 for speed; AMD's shape otherwise) and a VCEK for one chip. */
const wholeSeconds = (ms: number): Date => new Date(Math.floor(ms / 1000) * 1000)
const notBefore = wholeSeconds(Date.now() - DAY)
const notAfter = wholeSeconds(Date.now() + 5 * 365 * DAY)
const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
const chipId = new Uint8Array(64).fill(0x5a)
const vcek = pki.issueVcek({
  chipId,
  tcb: defaultSnpTcb('Milan'),
  notBefore,
  notAfter,
  serialNumber: 0x1234n,
})
const material: SimulatorSnpMaterial = {
  product: 'Milan',
  chipId,
  reportedTcb: defaultSnpTcb('Milan'),
  arkPem: pki.ark.pem,
  askPem: pki.ask.pem,
  vcekPem: vcek.pem,
  vcekPrivateKey: vcek.privateKey,
  crl: new Uint8Array(0),
}
const anchors: SnpTrustAnchors = {
  roots: {
    Milan: {
      product: 'Milan',
      ark: pki.ark.pem,
      ask: pki.ask.pem,
      asvk: '',
      fingerprints: { ark: '', ask: '', asvk: '' },
    },
  },
}
const serialOf = (certificate: { x509: { serialNumber: string } }): bigint =>
  BigInt(`0x${certificate.x509.serialNumber}`)

/** A Milan VCEK CRL signed by `signer`'s ARK, valid `from` … `until`, revoking `revoked`. */
function crl(
  from: Date,
  until: Date,
  revoked: readonly bigint[] = [],
  signer: { ark: { privateKey: typeof pki.ark.privateKey } } = pki,
): Uint8Array {
  return buildX509Crl(
    {
      issuer: amdName('ARK-Milan'),
      thisUpdate: wholeSeconds(from.getTime()),
      nextUpdate: wholeSeconds(until.getTime()),
      revoked: revoked.map((serialNumber) => ({
        serialNumber,
        revocationDate: wholeSeconds(from.getTime()),
      })),
      signatureAlgorithm: 'rsassa-pss-sha384',
    },
    signer.ark.privateKey,
  )
}

/** `/attest` of a guest of the test PKI's chip, its chain (VCEK, ASK, ARK) in the evidence. */
function attest(kbs: TestKbs): Promise<unknown> {
  const evidence = (reportData: Uint8Array): Promise<unknown> => {
    const initdata = parseInitdata(stringToUtf8(ACCEPTED))
    return Promise.resolve(
      JSON.parse(JSON.stringify(simulateSnpEvidence(material, { initdata, reportData }))),
    )
  }
  return kbs.client().attest({ tee: 'snp', evidence, initData: ACCEPTED })
}

async function newestAudit(kbs: TestKbs): Promise<Record<string, unknown>> {
  const { json } = await kbs.adminCall('GET', '/kbs/v0/admin/audit?limit=1000')
  return (json as { entries: Record<string, unknown>[] }).entries.at(-1) ?? {}
}

async function putWorkload(kbs: TestKbs): Promise<void> {
  const workload = simulatorWorkload([ACCEPTED])
  expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
}

/** Expect `/attest` refused with `status`, audited as a denial for `reason`. */
async function expectRefused(kbs: TestKbs, status: number, reason: string): Promise<string> {
  const error = await rejected(attest(kbs))
  expect(error.details['status']).toBe(status)
  expect(await newestAudit(kbs)).toMatchObject({
    action: 'attest',
    outcome: 'denied',
    tee: 'snp',
    reason,
  })
  return error.message
}

describe('/attest and AMD CRLs fetched from KDS', () => {
  let kds: LoopbackServer
  let kbs: TestKbs
  /** The KDS CRL paths asked for, in order. */
  const asked: string[] = []
  /** What KDS answers for the Milan VCEK CRL: a CRL, or a failing status. */
  let answer: Uint8Array | number = 503

  beforeAll(async () => {
    kds = await startLoopbackServer((req, res) => {
      const path = req.url ?? ''
      if (!path.endsWith('/crl')) return void res.writeHead(404).end()
      asked.push(path)
      if (typeof answer === 'number') {
        // Retry-After 0: the client's retries come at once, so the test does not wait for them.
        return void res.writeHead(answer, { 'retry-after': '0' }).end()
      }
      res.writeHead(200, { 'content-type': 'application/pkix-crl' }).end(answer)
    })
    kbs = await startTestKbs({ kdsBaseUrl: kds.baseUrl, snpAnchors: anchors })
    await putWorkload(kbs)
  }, 120_000)

  afterAll(async () => {
    await kbs.stop()
    await kds.close()
  })

  it('answers 503 when KDS cannot give the CRL, audited, and releases nothing', async () => {
    await expectRefused(kbs, 503, 'ERR_KDS_UNAVAILABLE')
    expect(asked.length).toBeGreaterThan(0)
    expect(new Set(asked)).toEqual(new Set(['/vcek/v1/Milan/crl']))
    // Retried guests within the failure memory get the same answer without asking KDS again.
    const before = asked.length
    await expectRefused(kbs, 503, 'ERR_KDS_UNAVAILABLE')
    expect(asked).toHaveLength(before)
  })

  it('fetches a current CRL once and checks later guests against it from memory', async () => {
    kbs.advance(CRL_FAILURE_MEMORY_MS + 1000)
    const now = kbs.now()
    answer = crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY))
    const before = asked.length
    for (let i = 0; i < 3; i++) expect(await attest(kbs)).toHaveProperty('token')
    expect(asked.slice(before)).toEqual(['/vcek/v1/Milan/crl'])
    expect(await newestAudit(kbs)).toMatchObject({ action: 'attest', outcome: 'issued' })
  })

  it('refuses a guest whose VCEK AMD revoked (a new CRL once the one in memory expired)', async () => {
    kbs.advance(8 * DAY)
    const now = kbs.now()
    answer = crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY), [
      serialOf(vcek),
    ])
    const message = await expectRefused(kbs, 401, 'ERR_SNP_CERT_REVOKED')
    expect(message).toContain('VCEK certificate (serial 1234) is revoked')
  })

  it('refuses a guest whose ASK AMD revoked', async () => {
    kbs.advance(8 * DAY)
    const now = kbs.now()
    answer = crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY), [
      serialOf(pki.ask),
    ])
    const message = await expectRefused(kbs, 401, 'ERR_SNP_CERT_REVOKED')
    expect(message).toContain('ASK SEV-Milan certificate')
  })

  it('refuses every guest while the only CRL KDS has is stale', async () => {
    kbs.advance(8 * DAY)
    const now = kbs.now()
    answer = crl(new Date(now.getTime() - 10 * DAY), new Date(now.getTime() - DAY))
    await expectRefused(kbs, 401, 'ERR_SNP_CRL_STALE')
  })

  it('refuses a CRL not signed by the trusted ARK, and does not keep it for the next guest', async () => {
    kbs.advance(CRL_FAILURE_MEMORY_MS + 1000)
    const now = kbs.now()
    const other = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
    answer = crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY), [], other)
    // The KDS client refuses it before caching (ERR_KDS_RESPONSE), still a 401.
    await expectRefused(kbs, 401, 'ERR_KDS_RESPONSE')
    // Once KDS answers AMD's CRL again, the next guest (after the failure memory) is checked
    // against it: the forged one was not kept to fail every guest for 12 hours.
    kbs.advance(CRL_FAILURE_MEMORY_MS + 1000)
    answer = crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY))
    expect(await attest(kbs)).toHaveProperty('token')
  })
})

describe('/attest and AMD CRL files (air-gapped)', () => {
  let dir: string
  let kds: LoopbackServer
  const asked: string[] = []

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kbs-amd-crl-'))
    kds = await startLoopbackServer((req, res) => {
      asked.push(req.url ?? '')
      res.writeHead(500).end()
    })
  })

  afterAll(async () => {
    await kds.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A KBS given one current CRL file as `KIND/PRODUCT`, running `use` with its workload set. */
  async function withCrlFile(key: string, use: (kbs: TestKbs) => Promise<void>): Promise<void> {
    const now = new Date()
    const file = join(dir, `${key.replace('/', '-')}.crl`)
    await writeFile(file, crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + 7 * DAY)))
    const kbs = await startTestKbs({
      kdsBaseUrl: kds.baseUrl,
      snpAnchors: anchors,
      config: { 'amd-crl': [`${key}=${file}`] },
    })
    try {
      await putWorkload(kbs)
      await use(kbs)
      expect(asked).toEqual([])
    } finally {
      await kbs.stop()
    }
  }

  it('checks chains against the files, never asking KDS', async () => {
    await withCrlFile('vcek/Milan', async (kbs) => {
      expect(await attest(kbs)).toHaveProperty('token')
    })
  }, 60_000)

  it('refuses (503) a chain whose CRL has no file once files are given', async () => {
    // Only the VLEK CRL is given: the guest's VCEK chain is never checked against it.
    await withCrlFile('vlek/Milan', async (kbs) => {
      await expectRefused(kbs, 503, 'ERR_KBS_SNP_CRL_MISSING')
    })
  }, 60_000)

  it('refuses to start with a file that is not the product CRL signed by the trusted ARK', async () => {
    const now = new Date()
    const forged = join(dir, 'forged.crl')
    const other = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
    await writeFile(
      forged,
      crl(new Date(now.getTime() - HOUR), new Date(now.getTime() + DAY), [], other),
    )
    const notACrl = join(dir, 'not-a-crl.crl')
    await writeFile(notACrl, 'hello')
    for (const file of [forged, notACrl]) {
      expect(
        await rejectedCode(
          startTestKbs({ snpAnchors: anchors, config: { 'amd-crl': [`vcek/Milan=${file}`] } }),
        ),
      ).toBe('ERR_KBS_AMD_CRL_INVALID')
    }
  }, 60_000)
})

describe("/attest and the simulator's CRL (--trust-sim)", () => {
  it('refuses a simulated guest whose VCEK the simulator CRL revokes', async () => {
    const kbs = await startTestKbs({ simulatorRevoked: ['vcek'] })
    try {
      await putWorkload(kbs)
      const error = await rejected(
        kbs
          .client()
          .attest({ tee: 'snp', evidence: kbs.guest('snp', ACCEPTED), initData: ACCEPTED }),
      )
      expect(error.details['status']).toBe(401)
      expect(await newestAudit(kbs)).toMatchObject({
        outcome: 'denied',
        tee: 'snp',
        reason: 'ERR_SNP_CERT_REVOKED',
      })
    } finally {
      await kbs.stop()
    }
  }, 120_000)
})

/**
 * What the AMD KDS client keeps: only VCEKs, CRLs and CA chains AMD signed (through the trusted
 * ARK), for what was asked. A VCEK is cached for good, a CRL for hours: an answer from someone on
 * the path must not stay there to fail every report of a chip or a product line.
 */
import { X509Certificate, createHash } from 'node:crypto'
import {
  cpSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { ScratchDirectories, rejectedCode } from '@initguard/testkit'
import {
  amdName,
  buildX509Crl,
  createAmdTestPki,
  encodeIssuingDistributionPoint,
  type AmdTestPki,
  type X509Extension,
} from '@initguard/tee-simulator'
import { decodeTcbVersion, parseAmdCertificate, parseSnpReport } from '@initguard/snp'
import { AmdKdsClient, vcekPath } from './amd-kds.ts'
import { KDS_TEST_ANCHORS, KDS_TEST_PKI } from './kds-test-support.ts'
import { scriptedServer } from './scripted-server-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2034-01-01T00:00:00Z')
/** The PKI the client trusts. */
const pki = KDS_TEST_PKI
const anchors = KDS_TEST_ANCHORS
/** Another PKI with AMD's names: what a forger can make. */
const forger = createAmdTestPki({ product: 'Milan', notBefore, notAfter })

const chipId = Uint8Array.from({ length: 64 }, (_, i) => i + 1)
const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
const vcekOf = (of: AmdTestPki, options: { chipId?: Uint8Array; snp?: number } = {}): Uint8Array =>
  of.issueVcek({
    chipId: options.chipId ?? chipId,
    tcb: { ...tcb, snp: options.snp ?? tcb.snp },
    notBefore,
    notAfter,
  }).der
const genuineVcek = vcekOf(pki)

function crlOf(
  of: AmdTestPki,
  nextUpdate = new Date('2026-12-31T00:00:00Z'),
  thisUpdate = new Date('2026-11-01T00:00:00Z'),
  extensions: X509Extension[] = [],
): Uint8Array {
  return buildX509Crl(
    {
      issuer: amdName('ARK-Milan'),
      thisUpdate,
      nextUpdate,
      revoked: [],
      signatureAlgorithm: 'rsassa-pss-sha384',
      extensions,
    },
    of.ark.privateKey,
  )
}
/** Inside the test CRL's window. */
const clock = (): Date => new Date('2026-11-29T00:00:00Z')

/** KDS, answering what each test scripts. */
const server = scriptedServer()
beforeEach(() => {
  server.requests = []
})
/** Answer each path with its body. */
function serve(bodies: Record<string, Uint8Array | string>): void {
  server.answers = Object.fromEntries(
    Object.entries(bodies).map(([path, body]) => [path, { body }]),
  )
}

const path = vcekPath('Milan', chipId, tcb)
function client(cacheDir: string, more: { offline?: boolean } = {}): AmdKdsClient {
  return new AmdKdsClient({
    baseUrl: server.baseUrl,
    cacheDir,
    anchors,
    clock,
    attempts: 1,
    ...more,
  })
}

describe('AmdKdsClient keeps only genuine VCEKs of the chip and TCB asked for', () => {
  it('accepts the VCEK the ASK issued for the chip at the TCB, and caches it', async () => {
    serve({ [path]: genuineVcek })
    const cacheDir = scratch.make('kds-vcek-')
    expect(Buffer.from(await client(cacheDir).vcek('Milan', chipId, tcb))).toEqual(
      Buffer.from(genuineVcek),
    )
    expect(
      Buffer.from(await client(cacheDir, { offline: true }).vcek('Milan', chipId, tcb)),
    ).toEqual(Buffer.from(genuineVcek))
  })

  it.each([
    ['DER that is no certificate', Buffer.from([0x30, 0x00])],
    ['a VCEK no trusted ASK signed', vcekOf(forger)],
    ['the VCEK of another chip', vcekOf(pki, { chipId: new Uint8Array(64).fill(9) })],
    ['the VCEK of another TCB', vcekOf(pki, { snp: 9 })],
    ['the ASK', pki.ask.der],
  ])('refuses %s, keeps nothing, and fetches the genuine one next', async (_what, body) => {
    const cacheDir = scratch.make('kds-vcek-bad-')
    serve({ [path]: body })
    expect(await rejectedCode(client(cacheDir).vcek('Milan', chipId, tcb))).toBe('ERR_KDS_RESPONSE')
    serve({ [path]: genuineVcek })
    server.requests = []
    expect(Buffer.from(await client(cacheDir).vcek('Milan', chipId, tcb))).toEqual(
      Buffer.from(genuineVcek),
    )
    expect(server.requests).toEqual([path])
  })

  it('with anchors of only an ARK, still refuses the VCEK of another chip or TCB', async () => {
    const milan = anchors.roots.Milan
    if (milan === undefined) throw new Error('the test anchors have Milan')
    const arkOnly = { roots: { Milan: { ...milan, ask: '' } } }
    const options = { baseUrl: server.baseUrl, anchors: arkOnly, clock, attempts: 1 }
    serve({ [path]: genuineVcek })
    expect(Buffer.from(await new AmdKdsClient(options).vcek('Milan', chipId, tcb))).toEqual(
      Buffer.from(genuineVcek),
    )
    serve({ [path]: vcekOf(pki, { snp: 9 }) })
    expect(await rejectedCode(new AmdKdsClient(options).vcek('Milan', chipId, tcb))).toBe(
      'ERR_KDS_RESPONSE',
    )
  })

  it('does not answer from a forged VCEK already in the cache: it fetches again', async () => {
    const cacheDir = scratch.make('kds-vcek-poisoned-')
    mkdirSync(join(cacheDir, 'kds'), { recursive: true })
    writeFileSync(
      join(cacheDir, 'kds', createHash('sha256').update(path).digest('hex')),
      JSON.stringify({ headers: {}, body: Buffer.from(vcekOf(forger)).toString('base64') }),
    )
    serve({ [path]: genuineVcek })
    expect(Buffer.from(await client(cacheDir).vcek('Milan', chipId, tcb))).toEqual(
      Buffer.from(genuineVcek),
    )
    expect(server.requests).toEqual([path])
  })

  it("accepts AMD's real VCEK for the real report's chip and TCB with AMD's roots", async () => {
    const vector = (name: string): Buffer =>
      readFileSync(
        new URL(`../../../testdata/vectors/snp/milan-v3-hostdata/${name}`, import.meta.url),
      )
    const report = parseSnpReport(new Uint8Array(vector('report.bin')))
    const real = new Uint8Array(new X509Certificate(vector('vcek.pem')).raw)
    const reported = decodeTcbVersion(report.reportedTcb, 'Milan')
    serve({ [vcekPath('Milan', report.chipId, reported)]: real })
    const production = new AmdKdsClient({ baseUrl: server.baseUrl, attempts: 1 })
    expect(Buffer.from(await production.vcek('Milan', report.chipId, reported))).toEqual(
      Buffer.from(real),
    )
  })
})

describe("AMD's real Turin VCEK", () => {
  it('is accepted for its 8-byte hwID and its TCB with FMC, and refused for another FMC', async () => {
    const der = new Uint8Array(
      readFileSync(
        new URL('../../../testdata/vectors/snp/turin-vcek-only/vcek.der', import.meta.url),
      ),
    )
    const { hwId, tcb: issued } = parseAmdCertificate(der, 'Turin VCEK').amd
    const turinChip = new Uint8Array(64)
    turinChip.set(hwId ?? new Uint8Array(8))
    const turinTcb = {
      fmc: issued?.fmc ?? 0,
      bootloader: issued?.bootloader ?? 0,
      tee: issued?.tee ?? 0,
      snp: issued?.snp ?? 0,
      microcode: issued?.microcode ?? 0,
    }
    const otherFmc = { ...turinTcb, fmc: turinTcb.fmc + 1 }
    serve({
      [vcekPath('Turin', turinChip, turinTcb)]: der,
      [vcekPath('Turin', turinChip, otherFmc)]: der,
    })
    const production = new AmdKdsClient({ baseUrl: server.baseUrl, attempts: 1 })
    expect(Buffer.from(await production.vcek('Turin', turinChip, turinTcb))).toEqual(
      Buffer.from(der),
    )
    expect(await rejectedCode(production.vcek('Turin', turinChip, otherFmc))).toBe(
      'ERR_KDS_RESPONSE',
    )
  })
})

describe('AmdKdsClient keeps only CRLs the trusted ARK signed', () => {
  const crlPath = '/vcek/v1/Milan/crl'

  it.each([
    ['DER that is no CRL', Buffer.from([0x30, 0x00])],
    ["another ARK's CRL", crlOf(forger)],
  ])('refuses %s, keeps nothing, and fetches the genuine one next', async (_what, body) => {
    const cacheDir = scratch.make('kds-crl-bad-')
    serve({ [crlPath]: body })
    expect(await rejectedCode(client(cacheDir).crl('Milan', 'vcek'))).toBe('ERR_KDS_RESPONSE')
    const genuine = crlOf(pki)
    serve({ [crlPath]: genuine })
    server.requests = []
    expect(Buffer.from(await client(cacheDir).crl('Milan', 'vcek'))).toEqual(Buffer.from(genuine))
    expect(server.requests).toEqual([crlPath])
  })

  it('fetches a cached CRL again once it is past its nextUpdate, however young the copy', async () => {
    const cacheDir = scratch.make('kds-crl-stale-')
    serve({ [crlPath]: crlOf(pki, new Date('2026-11-28T00:00:00Z')) })
    await client(cacheDir).crl('Milan', 'vcek')
    const current = crlOf(pki)
    serve({ [crlPath]: current })
    server.requests = []
    expect(Buffer.from(await client(cacheDir).crl('Milan', 'vcek'))).toEqual(Buffer.from(current))
    expect(server.requests).toEqual([crlPath])
  })

  it('answers the newer cached CRL, and keeps it, when KDS sends an older one that is still current', async () => {
    const cacheDir = scratch.make('kds-crl-rollback-')
    const newer = crlOf(pki, undefined, new Date('2026-11-20T00:00:00Z'))
    serve({ [crlPath]: newer })
    await client(cacheDir).crl('Milan', 'vcek')
    // 13 hours later the CRL is fetched again; KDS (or whoever answers) sends the one of Nov 1.
    const fetched = new Date(clock().getTime() - 13 * 3_600_000)
    for (const name of readdirSync(join(cacheDir, 'kds')))
      utimesSync(join(cacheDir, 'kds', name), fetched, fetched)
    serve({ [crlPath]: crlOf(pki) })
    server.requests = []
    expect(Buffer.from(await client(cacheDir).crl('Milan', 'vcek'))).toEqual(Buffer.from(newer))
    expect(server.requests).toEqual([crlPath])
    expect(
      Buffer.from(
        await client(cacheDir, { offline: true }).crl('Milan', 'vcek', { refresh: true }),
      ),
    ).toEqual(Buffer.from(newer))
  })

  it('never goes back to an older CRL within its lifetime: without a cache directory, or with it emptied or rolled back', async () => {
    const newer = crlOf(pki, undefined, new Date('2026-11-20T00:00:00Z'))
    const older = crlOf(pki)
    const answer = async (of: AmdKdsClient): Promise<Buffer> =>
      Buffer.from(await of.crl('Milan', 'vcek'))
    // Without a cache directory every call downloads; whoever answers the second sends Nov 1's.
    const uncached = new AmdKdsClient({ baseUrl: server.baseUrl, anchors, clock, attempts: 1 })
    serve({ [crlPath]: newer })
    expect(await answer(uncached)).toEqual(Buffer.from(newer))
    serve({ [crlPath]: older })
    server.requests = []
    expect(await answer(uncached)).toEqual(Buffer.from(newer))
    expect(server.requests).toEqual([crlPath])
    // A cache directory emptied under a running client.
    const cacheDir = scratch.make('kds-crl-wiped-')
    const running = client(cacheDir)
    serve({ [crlPath]: newer })
    expect(await answer(running)).toEqual(Buffer.from(newer))
    rmSync(join(cacheDir, 'kds'), { recursive: true })
    serve({ [crlPath]: older })
    expect(await answer(running)).toEqual(Buffer.from(newer))
    // An earlier copy put in its place is not answered from the cache either.
    const elsewhere = scratch.make('kds-crl-older-')
    expect(await answer(client(elsewhere))).toEqual(Buffer.from(older))
    cpSync(join(elsewhere, 'kds'), join(cacheDir, 'kds'), { recursive: true })
    expect(await answer(running)).toEqual(Buffer.from(newer))
    // The limit: a new client (a process just started) has no floor but its cache.
    expect(await answer(client(scratch.make('kds-crl-fresh-')))).toEqual(Buffer.from(older))
  })

  it("refuses, at the VLEK path, a CRL whose Issuing Distribution Point is the VCEK one's, and keeps nothing", async () => {
    // AMD signs both lists of a product with one ARK key under one name: the IDP is what tells.
    const published = (path: string): Uint8Array =>
      crlOf(pki, undefined, undefined, [
        {
          oid: '2.5.29.28',
          value: encodeIssuingDistributionPoint([`https://kdsintf.amd.com${path}`]),
        },
      ])
    const vlekPath = '/vlek/v1/Milan/crl'
    const cacheDir = scratch.make('kds-crl-hierarchy-')
    serve({ [vlekPath]: published(crlPath) })
    expect(await rejectedCode(client(cacheDir).crl('Milan', 'vlek'))).toBe('ERR_KDS_RESPONSE')
    const genuine = published(vlekPath)
    serve({ [vlekPath]: genuine })
    server.requests = []
    expect(Buffer.from(await client(cacheDir).crl('Milan', 'vlek'))).toEqual(Buffer.from(genuine))
    expect(server.requests).toEqual([vlekPath])
  })

  it('refuses a CA chain that does not end at the trusted ARK, or whose ASK it did not sign', async () => {
    const chainPath = '/vcek/v1/Milan/cert_chain'
    for (const body of [forger.vcekChainPem, `${forger.ask.pem}${pki.ark.pem}`]) {
      serve({ [chainPath]: body })
      expect(
        await rejectedCode(client(scratch.make('kds-chain-')).certChain('Milan', 'vcek')),
      ).toBe('ERR_KDS_RESPONSE')
    }
    serve({ [chainPath]: pki.vcekChainPem })
    expect(await client(scratch.make('kds-chain-')).certChain('Milan', 'vcek')).toBe(
      pki.vcekChainPem,
    )
  })
})

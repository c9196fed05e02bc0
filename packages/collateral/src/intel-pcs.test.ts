import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  ScratchDirectories,
  rejected,
  startLoopbackServer,
  thrown,
  type LoopbackServer,
} from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { CachedDownloader } from './cached-download.ts'
import { IntelPcsClient, PCS_DOWNLOADS_PER_QUOTE } from './intel-pcs.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const spr = (name: string): Buffer =>
  readFileSync(new URL(`../../../testdata/vectors/tdx/spr-v4/${name}`, import.meta.url))

/** A local HTTP server standing in for a PCCS, serving the real spr-v4 collateral. */
let server: LoopbackServer
let baseUrl = ''
let requests: string[] = []
let crlAsHex = false
/** Answers are sent once this settles (a test replaces it to hold them). */
let answersHeld = Promise.resolve()

/** Start a PCCS on loopback serving the real spr-v4 collateral, telling `asked` each path. */
function startPccs(asked: (url: string) => void): Promise<LoopbackServer> {
  const tcbChain = encodeURIComponent(spr('tcb-signing-chain.pem').toString())
  const crlChain = encodeURIComponent(spr('pck-crl-issuer-chain.pem').toString())
  const answer = (url: string, res: ServerResponse): void => {
    if (url === '/tdx/certification/v4/tcb?fmspc=50806f000000') {
      res.setHeader('TCB-Info-Issuer-Chain', tcbChain)
      res.end(spr('tcbinfo-response.json'))
    } else if (url === '/tdx/certification/v4/qe/identity') {
      res.setHeader('SGX-Enclave-Identity-Issuer-Chain', tcbChain)
      res.end(spr('qeidentity-response.json'))
    } else if (url === '/sgx/certification/v4/pckcrl?ca=platform&encoding=der') {
      res.setHeader('SGX-PCK-CRL-Issuer-Chain', crlChain)
      res.end(crlAsHex ? spr('pck-platform-crl.der').toString('hex') : spr('pck-platform-crl.der'))
    } else if (url === '/sgx/certification/v4/rootcacrl') {
      res.end(spr('root-ca-crl.der'))
    } else {
      res.writeHead(404)
      res.end()
    }
  }
  return startLoopbackServer((req, res) => {
    const url = req.url ?? ''
    asked(url)
    void answersHeld.then(() => {
      answer(url, res)
    })
  })
}

beforeAll(async () => {
  server = await startPccs((url) => requests.push(url))
  baseUrl = server.baseUrl
})
afterAll(async () => {
  await server.close()
})

describe('IntelPcsClient', () => {
  it('fetches all collateral with exact bodies and decoded issuer chains', async () => {
    requests = []
    const cacheDir = scratch.make('pcs-')
    const client = new IntelPcsClient({ baseUrl, cacheDir })
    const collateral = await client.collateral({
      tee: 'tdx',
      fmspc: '50806F000000',
      ca: 'platform',
    })
    expect(collateral.tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
    expect(collateral.qeIdentityBody).toBe(spr('qeidentity-response.json').toString())
    expect(collateral.tcbInfoIssuerChain).toBe(spr('tcb-signing-chain.pem').toString())
    expect(collateral.pckCrlIssuerChain).toBe(spr('pck-crl-issuer-chain.pem').toString())
    expect(Buffer.from(collateral.pckCrl).equals(spr('pck-platform-crl.der'))).toBe(true)
    expect(Buffer.from(collateral.rootCaCrl).equals(spr('root-ca-crl.der'))).toBe(true)
    expect(requests).toHaveLength(4)
    // Offline, everything comes from the cache.
    requests = []
    const offline = new IntelPcsClient({ baseUrl, cacheDir, offline: true })
    expect(
      (await offline.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })).tcbInfoBody,
    ).toBe(collateral.tcbInfoBody)
    expect(requests).toEqual([])
    // Online, at this host's time every document is past its nextUpdate (2023, the Root CA CRL
    // 2024): all four are fetched again, the young CRLs too.
    await client.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })
    expect(requests).toHaveLength(4)
    // A client whose clock says June 2023 (a clock stepped back) finds copies downloaded after
    // its now: their age cannot be told, so all four are fetched again, though current by their
    // nextUpdate; the new copies are dated by its clock, and then answered.
    requests = []
    const asOfJune = new IntelPcsClient({ baseUrl, cacheDir, clock: () => new Date('2023-06-30') })
    await asOfJune.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })
    expect(requests).toHaveLength(4)
    requests = []
    await asOfJune.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' })
    expect(requests).toEqual([])
  })

  it("judges TCB info and QE identity fresh by the client's clock, not this host's", async () => {
    const cacheDir = scratch.make('pcs-clock-')
    const request = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
    // Both documents are due for update in July 2023: at the end of June they are fresh.
    const june2023 = (): Date => new Date('2023-06-30T00:00:00Z')
    const asOfJune = new IntelPcsClient({ baseUrl, cacheDir, clock: june2023 })
    await asOfJune.collateral(request)
    requests = []
    await asOfJune.collateral(request)
    expect(requests).toEqual([])
    // A client at the host's time finds them (and the CRLs) stale and fetches them again.
    await new IntelPcsClient({ baseUrl, cacheDir }).collateral(request)
    expect(requests.sort()).toEqual([
      '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
      '/sgx/certification/v4/rootcacrl',
      '/tdx/certification/v4/qe/identity',
      '/tdx/certification/v4/tcb?fmspc=50806f000000',
    ])
  })

  it('reads CRLs sent as hex, and names what is missing', async () => {
    crlAsHex = true
    const client = new IntelPcsClient({ baseUrl, attempts: 1 })
    const collateral = await client.collateral({
      tee: 'tdx',
      fmspc: '50806f000000',
      ca: 'platform',
    })
    expect(Buffer.from(collateral.pckCrl).equals(spr('pck-platform-crl.der'))).toBe(true)
    crlAsHex = false
    try {
      await client.collateral({ tee: 'sgx', fmspc: '50806f000000', ca: 'platform' })
      expect.unreachable()
    } catch (e) {
      expect(isInitguardError(e) && e.code).toBe('ERR_PCS_NOT_FOUND')
      expect(isInitguardError(e) && e.category).toBe('unavailable')
    }
    const offline = new IntelPcsClient({ baseUrl, offline: true })
    await expect(
      offline.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' }),
    ).rejects.toMatchObject({ code: 'ERR_PCS_OFFLINE' })
    await expect(
      offline.collateral({ tee: 'tdx', fmspc: 'zz', ca: 'platform' }),
    ).rejects.toMatchObject({ code: 'ERR_PCS_FMSPC' })
  })
})

describe('IntelPcsClient and a damaged response', () => {
  it('refuses an issuer chain that is not percent-encoded (ERR_PCS_RESPONSE, not a URIError)', async () => {
    const damaged: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      const headers = new Headers(response.headers)
      if (headers.has('tcb-info-issuer-chain')) headers.set('tcb-info-issuer-chain', '%E0%A4%A')
      return new Response(await response.arrayBuffer(), { status: response.status, headers })
    }
    const client = new IntelPcsClient({ baseUrl, fetch: damaged, attempts: 1 })
    const error = await rejected(
      client.collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' }),
    )
    expect([error.code, error.category]).toEqual(['ERR_PCS_RESPONSE', 'malformed'])
    expect(error.message).toContain('tcb-info-issuer-chain header is not percent-encoded')
  })

  it('does not cache a damaged answer: the next request fetches it again', async () => {
    const cacheDir = scratch.make('pcs-damaged-')
    const request = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
    const june2023 = (): Date => new Date('2023-06-30T00:00:00Z')
    /** Drops the TCB info's issuer chain and sends the PCK CRL as text that is no CRL. */
    const damaged: typeof fetch = async (input, init) => {
      const response = await fetch(input, init)
      const headers = new Headers(response.headers)
      headers.delete('tcb-info-issuer-chain')
      const url = String(input instanceof Request ? input.url : input)
      const body = url.includes('pckcrl') ? 'not a CRL' : await response.arrayBuffer()
      return new Response(body, { status: response.status, headers })
    }
    const options = { baseUrl, cacheDir, attempts: 1, clock: june2023 }
    const first = await rejected(
      new IntelPcsClient({ ...options, fetch: damaged }).collateral(request),
    )
    expect(first.code).toBe('ERR_PCS_RESPONSE')
    // Within the documents' own freshness (the clock is before nextUpdate, the CRL 12 h old at
    // most), a cached copy would be answered again; the damaged ones were not kept.
    requests = []
    const collateral = await new IntelPcsClient(options).collateral(request)
    expect(collateral.tcbInfoIssuerChain).toBe(spr('tcb-signing-chain.pem').toString())
    expect(Buffer.from(collateral.pckCrl).equals(spr('pck-platform-crl.der'))).toBe(true)
    // The other two may be fetched again too: the first call stopped at its first refusal, and
    // their downloads may not have reached the cache by then.
    expect(requests).toEqual(
      expect.arrayContaining([
        '/sgx/certification/v4/pckcrl?ca=platform&encoding=der',
        '/tdx/certification/v4/tcb?fmspc=50806f000000',
      ]),
    )
  })
})

describe('IntelPcsClient and a CRL cut short', () => {
  it('refuses a CRL that is not one whole DER SEQUENCE, and does not cache it', async () => {
    const request = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
    const june2023 = (): Date => new Date('2023-06-30T00:00:00Z')
    const crl = spr('pck-platform-crl.der')
    for (const cut of [
      crl.subarray(0, 64), // DER cut short
      Buffer.concat([crl, Buffer.from('<html>')]), // DER with a page after it
      Buffer.from(crl.subarray(0, 64).toString('hex')), // hex of a cut DER
      Buffer.from('0 is no CRL'), // text that starts with 0x30
    ]) {
      const damaged: typeof fetch = async (input, init) => {
        const response = await fetch(input, init)
        const url = String(input instanceof Request ? input.url : input)
        const body = url.includes('pckcrl') ? cut : await response.arrayBuffer()
        return new Response(body, { status: response.status, headers: response.headers })
      }
      const options = {
        baseUrl,
        cacheDir: scratch.make('pcs-cut-crl-'),
        attempts: 1,
        clock: june2023,
      }
      const error = await rejected(
        new IntelPcsClient({ ...options, fetch: damaged }).collateral(request),
      )
      expect(error.code).toBe('ERR_PCS_RESPONSE')
      requests = []
      const collateral = await new IntelPcsClient(options).collateral(request)
      expect(Buffer.from(collateral.pckCrl).equals(crl)).toBe(true)
      expect(requests).toContain('/sgx/certification/v4/pckcrl?ca=platform&encoding=der')
    }
  })
})

describe('IntelPcsClient and a damaged entry cached before answers were checked', () => {
  it('fetches the TCB info again rather than failing until its nextUpdate', async () => {
    const cacheDir = scratch.make('pcs-damaged-cached-')
    const request = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
    const june2023 = (): Date => new Date('2023-06-30T00:00:00Z')
    // Cached without its issuer-chain header, as a downloader without a check kept it: the body
    // is fresh until July 2023, so it would be answered, and refused, until then.
    const path = '/tdx/certification/v4/tcb?fmspc=50806f000000'
    await new CachedDownloader('Intel PCS', 'PCS', { cacheDir, clock: june2023 }).get({
      url: baseUrl + path,
      cacheKey: path,
      what: 'TCB info',
    })
    requests = []
    const collateral = await new IntelPcsClient({ baseUrl, cacheDir, clock: june2023 }).collateral(
      request,
    )
    expect(collateral.tcbInfoIssuerChain).toBe(spr('tcb-signing-chain.pem').toString())
    expect(requests).toContain(path)
  })
})

describe('IntelPcsClient and the download bound', () => {
  const quote = { tee: 'tdx', fmspc: '50806f000000', ca: 'platform' } as const
  /** A PCCS of these tests' own, so that no earlier test's late requests are counted. */
  let pccs: LoopbackServer
  const asked: string[] = []
  beforeAll(async () => {
    pccs = await startPccs((url) => asked.push(url))
  })
  afterAll(async () => {
    await pccs.close()
  })

  it(`needs room for the ${PCS_DOWNLOADS_PER_QUOTE} downloads of one cold quote: 1 at once and 3 waiting fetch it all`, async () => {
    expect(PCS_DOWNLOADS_PER_QUOTE).toBe(4)
    for (const [maxConcurrentDownloads, maxQueuedDownloads] of [
      [1, 3],
      [4, 0],
    ] as const) {
      asked.length = 0
      const client = new IntelPcsClient({
        baseUrl: pccs.baseUrl,
        maxConcurrentDownloads,
        maxQueuedDownloads,
      })
      const collateral = await client.collateral(quote)
      expect(collateral.tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
      expect(Buffer.from(collateral.rootCaCrl).equals(spr('root-ca-crl.der'))).toBe(true)
      expect(asked).toHaveLength(4)
    }
  })

  it('refuses a bound with fewer than 4 at once and waiting, when the client is made', () => {
    for (const [maxConcurrentDownloads, maxQueuedDownloads] of [
      [1, 0],
      [1, 2],
      [3, 0],
      [2, 1],
    ] as const) {
      const error = thrown(
        () =>
          new IntelPcsClient({ baseUrl: pccs.baseUrl, maxConcurrentDownloads, maxQueuedDownloads }),
      )
      expect([error.code, error.category]).toEqual(['ERR_DOWNLOAD_LIMITS', 'usage'])
      expect(error.message).toContain(
        `maxConcurrentDownloads ${maxConcurrentDownloads} + maxQueuedDownloads ${maxQueuedDownloads} is fewer than the 4 Intel PCS downloads`,
      )
      expect(error.hint).toContain('at least 4 (e.g. 1 and 3)')
    }
  })

  it('refuses a second cold quote ERR_PCS_BUSY at once while the first holds every slot', async () => {
    asked.length = 0
    let release: () => void = () => undefined
    answersHeld = new Promise((resolve) => (release = resolve))
    try {
      const client = new IntelPcsClient({
        baseUrl: pccs.baseUrl,
        maxConcurrentDownloads: 1,
        maxQueuedDownloads: 3,
      })
      const first = client.collateral(quote)
      while (asked.length < 1) await new Promise((resolve) => setTimeout(resolve, 5))
      // SGX's TCB info and QE identity are new downloads, refused; its CRLs join the TDX quote's.
      const busy = await rejected(client.collateral({ ...quote, tee: 'sgx' }))
      expect([busy.code, busy.category]).toEqual(['ERR_PCS_BUSY', 'unavailable'])
      expect(busy.message).toContain(
        'too many Intel PCS downloads: 1 Intel PCS downloads at once are under way and 3 more are waiting',
      )
      expect(busy.details['reason']).toBe('queue-full')
      release()
      expect((await first).tcbInfoBody).toBe(spr('tcbinfo-response.json').toString())
      expect(asked).toHaveLength(4)
      expect(asked.filter((url) => url.startsWith('/sgx/certification/v4/tcb'))).toEqual([])
    } finally {
      release()
      answersHeld = Promise.resolve()
    }
  })
})

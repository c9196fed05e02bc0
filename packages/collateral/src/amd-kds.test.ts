import type { IncomingMessage, ServerResponse } from 'node:http'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { ScratchDirectories, startLoopbackServer, type LoopbackServer } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { AmdKdsClient, vcekPath, type AmdKdsOptions } from './amd-kds.ts'
import { CachedDownloader, MAX_COLLATERAL_SIZE } from './cached-download.ts'
import { KDS_TEST_ANCHORS, KDS_TEST_PKI, testCrl, testVcek } from './kds-test-support.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** A local HTTP server standing in for KDS, scripted per test. */
let server: LoopbackServer
let baseUrl: string
let requests: string[] = []
let handler: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.end()

beforeAll(async () => {
  server = await startLoopbackServer((req, res) => {
    requests.push(req.url ?? '')
    handler(req, res)
  })
  baseUrl = server.baseUrl
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  requests = []
})

const chipId = Uint8Array.from({ length: 64 }, (_, i) => i + 1)
const tcb = { bootloader: 3, tee: 0, snp: 8, microcode: 115 }
/** The test PKI's Milan VCEK CA chain (ASK, ARK), as its KDS serves it at cert_chain. */
const certChainPem = KDS_TEST_PKI.vcekChainPem
/** The test PKI's VCEK of the chip at the TCB, and two of its CRLs. */
const vcek = Buffer.from(testVcek(chipId, tcb))
const crl = (n: number): Buffer => Buffer.from(testCrl(n))
/** A small DER SEQUENCE (INTEGER n inside): DER, but no certificate nor CRL. */
const der = (n: number): Buffer => Buffer.from([0x30, 0x03, 0x02, 0x01, n])
/** A client that trusts the test PKI. */
const kds = (options: AmdKdsOptions = {}): AmdKdsClient =>
  new AmdKdsClient({ baseUrl, anchors: KDS_TEST_ANCHORS, ...options })
const noSleep = async (): Promise<void> => {
  await Promise.resolve()
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  throw new Error('expected an error')
}

describe('KDS paths', () => {
  it('names a Milan VCEK by the whole CHIP_ID and a Turin one by 8 bytes with fmcSPL first', () => {
    const hex = Buffer.from(chipId).toString('hex')
    expect(vcekPath('Milan', chipId, tcb)).toBe(
      `/vcek/v1/Milan/${hex}?blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
    )
    expect(vcekPath('Turin', chipId, { fmc: 1, ...tcb })).toBe(
      `/vcek/v1/Turin/${hex.slice(0, 16)}?fmcSPL=1&blSPL=3&teeSPL=0&snpSPL=8&ucodeSPL=115`,
    )
  })
})

describe('AmdKdsClient', () => {
  it('downloads once, then serves from the cache', async () => {
    handler = (_req, res) => res.end(vcek)
    const cacheDir = scratch.make('kds-cache-')
    const client = kds({ cacheDir })
    expect(Buffer.from(await client.vcek('Milan', chipId, tcb))).toEqual(vcek)
    const again = kds({ cacheDir, offline: true })
    expect(Buffer.from(await again.vcek('Milan', chipId, tcb))).toEqual(vcek)
    expect(requests).toHaveLength(1)
  })

  it('backs off on 429, honouring Retry-After', async () => {
    let calls = 0
    handler = (_req, res) => {
      calls++
      if (calls < 3) {
        res.writeHead(429, { 'retry-after': '2' })
        res.end()
      } else res.end(crl(2))
    }
    const waits: number[] = []
    const client = kds({
      backoffMs: 100,
      sleep: async (ms) => {
        waits.push(ms)
        await noSleep()
      },
    })
    expect(Buffer.from(await client.crl('Milan', 'vcek'))).toEqual(crl(2))
    expect(waits).toEqual([2000, 2000])
    expect(requests).toEqual(['/vcek/v1/Milan/crl', '/vcek/v1/Milan/crl', '/vcek/v1/Milan/crl'])
  })

  it('gives up after the attempts with a clear error, and says 404 at once', async () => {
    handler = (_req, res) => {
      res.writeHead(503)
      res.end()
    }
    const client = new AmdKdsClient({ baseUrl, attempts: 3, sleep: noSleep })
    expect(await codeOf(client.certChain('Genoa', 'vcek'))).toBe('ERR_KDS_UNAVAILABLE')
    expect(requests).toHaveLength(3)
    requests = []
    handler = (_req, res) => {
      res.writeHead(404)
      res.end()
    }
    expect(await codeOf(client.vcek('Milan', chipId, tcb))).toBe('ERR_KDS_NOT_FOUND')
    expect(requests).toHaveLength(1)
  })

  it('times out a silent server', async () => {
    handler = () => undefined
    const client = new AmdKdsClient({ baseUrl, attempts: 2, timeoutMs: 200, sleep: noSleep })
    expect(await codeOf(client.crl('Turin', 'vlek'))).toBe('ERR_KDS_UNAVAILABLE')
  })

  it('refuses a body over the collateral limit instead of reading it all into memory', async () => {
    handler = (_req, res) => {
      res.writeHead(200)
      const chunk = Buffer.alloc(1024 * 1024, 0x30)
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) {
          // endless: until the client goes away
        }
        if (!res.destroyed) res.once('drain', pump)
      }
      res.on('error', () => undefined)
      pump()
    }
    const client = new AmdKdsClient({ baseUrl, attempts: 1, timeoutMs: 5000, sleep: noSleep })
    expect(await codeOf(client.crl('Milan', 'vcek'))).toBe('ERR_KDS_TOO_LARGE')
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': String(MAX_COLLATERAL_SIZE + 1) })
      res.write('x')
    }
    expect(await codeOf(client.crl('Genoa', 'vcek'))).toBe('ERR_KDS_TOO_LARGE')
  })

  it('never touches the network offline, and reads the offline store', async () => {
    handler = (_req, res) => res.end('network')
    const client = new AmdKdsClient({ baseUrl, offline: true })
    expect(await codeOf(client.vcek('Milan', chipId, tcb))).toBe('ERR_KDS_OFFLINE')
    const store = scratch.make('kds-store-')
    const folder = join(store, 'Milan', Buffer.from(chipId).toString('hex'))
    mkdirSync(folder, { recursive: true })
    writeFileSync(join(folder, 'bl03_tee00_snp08_ucode115.der'), 'from-store')
    const stored = new AmdKdsClient({ baseUrl, offline: true, offlineStore: store })
    expect(Buffer.from(await stored.vcek('Milan', chipId, tcb)).toString()).toBe('from-store')
    writeFileSync(join(folder, 'vcek.der'), 'fallback')
    expect(Buffer.from(await stored.vcek('Milan', chipId, { ...tcb, snp: 9 })).toString()).toBe(
      'fallback',
    )
    expect(requests).toEqual([])
  })

  it('refuses and does not cache an answer that is not what was asked for (a proxy page, a cut body)', async () => {
    const cacheDir = scratch.make('kds-damaged-')
    const client = kds({ cacheDir, attempts: 1 })
    const cases: [string, () => Promise<unknown>][] = [
      ['VCEK', () => client.vcek('Milan', chipId, tcb)],
      ['CRL', () => client.crl('Milan', 'vcek')],
      ['CA chain', () => client.certChain('Milan', 'vcek')],
    ]
    for (const answer of [
      '<html>proxy login</html>',
      der(1).subarray(0, 4),
      Buffer.from([0x02, 0x01, 0x01]),
      // DER, but neither a certificate nor a CRL nor PEM.
      der(1),
    ]) {
      handler = (_req, res) => res.end(answer)
      for (const [what, fetchIt] of cases)
        expect([what, await codeOf(fetchIt())]).toEqual([what, 'ERR_KDS_RESPONSE'])
    }
    // Nothing damaged was kept: the next answers are fetched, checked and cached.
    const answer = (url = ''): string | Buffer =>
      url.includes('cert_chain') ? certChainPem : url.endsWith('/crl') ? crl(3) : vcek
    handler = (req, res) => res.end(answer(req.url))
    requests = []
    expect(Buffer.from(await client.vcek('Milan', chipId, tcb))).toEqual(vcek)
    expect(Buffer.from(await client.crl('Milan', 'vcek'))).toEqual(crl(3))
    expect(await client.certChain('Milan', 'vcek')).toBe(certChainPem)
    expect(requests).toHaveLength(3)
  })

  it('does not answer from a damaged entry cached before answers were checked: it fetches again', async () => {
    const cacheDir = scratch.make('kds-damaged-cached-')
    const paths = [
      vcekPath('Milan', chipId, tcb),
      '/vcek/v1/Milan/crl',
      '/vcek/v1/Milan/cert_chain',
    ]
    // A proxy's page, cached as a downloader without a check (this project's before) kept it.
    handler = (_req, res) => res.end('<html>proxy login</html>')
    const unchecked = new CachedDownloader('AMD KDS', 'KDS', { cacheDir })
    for (const path of paths)
      await unchecked.get({ url: baseUrl + path, cacheKey: path, what: 'a document' })
    // Offline, such an entry is no copy of the document: not in the cache.
    const offline = kds({ cacheDir, offline: true })
    expect(await codeOf(offline.vcek('Milan', chipId, tcb))).toBe('ERR_KDS_OFFLINE')
    expect(await codeOf(offline.crl('Milan', 'vcek'))).toBe('ERR_KDS_OFFLINE')
    expect(await codeOf(offline.certChain('Milan', 'vcek'))).toBe('ERR_KDS_OFFLINE')
    // Online it is fetched again, and the good answer replaces it.
    handler = (req, res) =>
      res.end(
        req.url?.includes('cert_chain') === true
          ? certChainPem
          : req.url?.endsWith('/crl') === true
            ? crl(4)
            : vcek,
      )
    requests = []
    const client = kds({ cacheDir })
    expect(Buffer.from(await client.vcek('Milan', chipId, tcb))).toEqual(vcek)
    expect(Buffer.from(await client.crl('Milan', 'vcek'))).toEqual(crl(4))
    expect(await client.certChain('Milan', 'vcek')).toBe(certChainPem)
    expect(requests.sort()).toEqual([...paths].sort())
    expect(Buffer.from(await offline.vcek('Milan', chipId, tcb))).toEqual(vcek)
  })

  it('refuses a masked CHIP_ID', async () => {
    const client = new AmdKdsClient({ baseUrl })
    expect(await codeOf(client.vcek('Milan', new Uint8Array(64), tcb))).toBe(
      'ERR_KDS_CHIP_ID_MASKED',
    )
  })
})

describe('AmdKdsClient CRL cache', () => {
  it('refreshes a CRL older than 12 hours online, and uses it offline', async () => {
    const { utimesSync, readdirSync } = await import('node:fs')
    handler = (_req, res) => res.end(crl(1))
    const cacheDir = scratch.make('kds-crl-')
    expect(Buffer.from(await kds({ cacheDir }).crl('Milan', 'vcek'))).toEqual(crl(1))
    handler = (_req, res) => res.end(crl(2))
    expect(Buffer.from(await kds({ cacheDir }).crl('Milan', 'vcek'))).toEqual(crl(1))
    const file = join(cacheDir, 'kds', readdirSync(join(cacheDir, 'kds'))[0] ?? '')
    const old = new Date(Date.now() - 13 * 60 * 60 * 1000)
    utimesSync(file, old, old)
    expect(Buffer.from(await kds({ cacheDir, offline: true }).crl('Milan', 'vcek'))).toEqual(crl(1))
    expect(Buffer.from(await kds({ cacheDir }).crl('Milan', 'vcek'))).toEqual(crl(2))
  })
})

describe('AmdKdsClient CRL refresh', () => {
  it('downloads a young cached CRL again when asked to refresh, and stores the new one', async () => {
    handler = (_req, res) => res.end(crl(1))
    const cacheDir = scratch.make('kds-crl-refresh-')
    const client = kds({ cacheDir })
    expect(Buffer.from(await client.crl('Milan', 'vlek'))).toEqual(crl(1))
    handler = (_req, res) => res.end(crl(2))
    expect(Buffer.from(await client.crl('Milan', 'vlek'))).toEqual(crl(1))
    expect(Buffer.from(await client.crl('Milan', 'vlek', { refresh: true }))).toEqual(crl(2))
    expect(Buffer.from(await client.crl('Milan', 'vlek'))).toEqual(crl(2))
    expect(requests).toEqual(['/vlek/v1/Milan/crl', '/vlek/v1/Milan/crl'])
    // Offline there is nothing to refresh from: the cache is all there is.
    const offline = kds({ cacheDir, offline: true })
    expect(Buffer.from(await offline.crl('Milan', 'vlek', { refresh: true }))).toEqual(crl(2))
    expect(requests).toHaveLength(2)
  })
})

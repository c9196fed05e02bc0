/**
 * The collateral clients keep their codes for a host that does not resolve or refuses the
 * connection (`ERR_KDS_UNREACHABLE`, `ERR_PCS_UNREACHABLE`), reported after one attempt with hints
 * naming how to do without the network; the HTTP client's own tests cover the mechanism.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { closedPort, countingNetwork } from '../../http/src/http-test-support.ts'
import { rejected, ScratchDirectories } from '@initguard/testkit'
import { AmdKdsClient } from './amd-kds.ts'
import { IntelPcsClient } from './intel-pcs.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

describe('hopeless network failures are reported at once', () => {
  let refused = ''
  beforeAll(async () => {
    refused = `127.0.0.1:${await closedPort()}`
  })
  // `.invalid` never resolves (RFC 6761), with or without a network.
  const unresolvable = 'kds.initguard.invalid'

  it.each([
    ['an unresolvable host', (): string => `http://${unresolvable}`, /ENOTFOUND|EAI_AGAIN/],
    ['a closed port', (): string => `http://${refused}`, /ECONNREFUSED/],
  ])('AMD KDS: %s is ERR_KDS_UNREACHABLE after one attempt', async (_name, baseUrl, reason) => {
    const net = countingNetwork()
    const started = Date.now()
    const error = await rejected(
      new AmdKdsClient({ baseUrl: baseUrl(), fetch: net.fetch, sleep: net.sleep }).vcek(
        'Milan',
        new Uint8Array(64).fill(1),
        { bootloader: 1, tee: 0, snp: 1, microcode: 1 },
      ),
    )
    expect(error.code).toBe('ERR_KDS_UNREACHABLE')
    expect(error.details['reason']).toMatch(reason)
    expect(error.hint).toContain('--certs')
    expect(error.hint).not.toContain('throttling')
    expect(net.fetches()).toBe(1)
    expect(net.waits).toEqual([])
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it.each([
    ['an unresolvable host', (): string => 'http://pcs.initguard.invalid', /ENOTFOUND|EAI_AGAIN/],
    ['a closed port', (): string => `http://${refused}`, /ECONNREFUSED/],
  ])('Intel PCS: %s is ERR_PCS_UNREACHABLE without retries', async (_name, baseUrl, reason) => {
    const net = countingNetwork()
    const error = await rejected(
      new IntelPcsClient({
        baseUrl: baseUrl(),
        fetch: net.fetch,
        sleep: net.sleep,
        cacheDir: scratch.make('initguard-pcs-'),
      }).collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' }),
    )
    expect(error.code).toBe('ERR_PCS_UNREACHABLE')
    expect(error.details['reason']).toMatch(reason)
    expect(error.hint).toContain('--collateral')
    // The four documents are fetched in parallel: one attempt each, no backoff.
    expect(net.fetches()).toBeLessThanOrEqual(4)
    expect(net.waits).toEqual([])
  })
})

/**
 * The registry client keeps `ERR_REGISTRY_UNREACHABLE` for a host that does not resolve or refuses
 * the connection, after one attempt; the HTTP client's own tests cover the mechanism, the
 * collateral clients' tests their codes.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { closedPort, countingNetwork } from '../../http/src/http-test-support.ts'
import { rejected } from '@initguard/testkit'
import { RegistryClient } from './registry-client.ts'

describe('hopeless network failures are reported at once', () => {
  let refused = ''
  beforeAll(async () => {
    refused = `127.0.0.1:${await closedPort()}`
  })

  it.each([
    ['an unresolvable host', (): string => 'registry.initguard.invalid', /ENOTFOUND|EAI_AGAIN/],
    ['a closed port', (): string => refused, /ECONNREFUSED/],
  ])('registry: %s is ERR_REGISTRY_UNREACHABLE without retries', async (_name, host, reason) => {
    const net = countingNetwork()
    const error = await rejected(
      new RegistryClient({
        insecureRegistries: [host()],
        fetch: net.fetch,
        sleep: net.sleep,
      }).getManifest(`${host()}/library/busybox`, 'latest'),
    )
    expect(error.code).toBe('ERR_REGISTRY_UNREACHABLE')
    expect(error.details['reason']).toMatch(reason)
    expect(error.details['attempts']).toBe(1)
    expect(net.fetches()).toBe(1)
    expect(net.waits).toEqual([])
  })
})

/**
 * The registry client keeps `ERR_REGISTRY_UNREACHABLE` for a host that does not resolve or refuses
 * the connection, after one attempt; the HTTP client's own tests cover the mechanism, the
 * collateral clients' tests their codes.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { RegistryClient } from './registry-client.ts'
import { freePort as closedPort } from './registry-test-support.ts'

/** Counts fetches and backoff waits; the waits are not slept. */
function counting(): {
  fetch: typeof fetch
  sleep: (ms: number) => Promise<void>
  fetches: () => number
  waited: () => number
} {
  let fetches = 0
  let waited = 0
  return {
    fetch: (input, init) => {
      fetches++
      return fetch(input, init)
    },
    sleep: (ms) => {
      waited += ms
      return Promise.resolve()
    },
    fetches: () => fetches,
    waited: () => waited,
  }
}

describe('hopeless network failures are reported at once', () => {
  let refused = ''
  beforeAll(async () => {
    refused = `127.0.0.1:${await closedPort()}`
  })

  it.each([
    ['an unresolvable host', (): string => 'registry.initguard.invalid', /ENOTFOUND|EAI_AGAIN/],
    ['a closed port', (): string => refused, /ECONNREFUSED/],
  ])('registry: %s is ERR_REGISTRY_UNREACHABLE without retries', async (_name, host, reason) => {
    const net = counting()
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
    expect(net.waited()).toBe(0)
  })
})

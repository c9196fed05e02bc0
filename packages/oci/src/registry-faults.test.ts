/**
 * Faults a real registry does not produce on demand, injected by a small HTTP server that proxies
 * to a real registry (registry-faults-test-support.ts): authentication challenges and token
 * services, and retries (5xx/429, bodies cut short, stalls). Deadlines, content checks and pushes
 * are in registry-faults-content.test.ts.
 */
import type { ServerResponse } from 'node:http'
import { describe, expect, it } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import { isInitguardError } from '@initguard/core'
import { dockerCredentialsFor, parseDockerConfig } from './docker-credentials.ts'
import { computeDigest } from './oci-manifest.ts'
import { dockerConfigCredentials, type RegistryClient } from './registry-client.ts'
import {
  client,
  front,
  image,
  log,
  proxy,
  ref,
  useFaultServers,
} from './registry-faults-test-support.ts'

useFaultServers()

describe('authentication', () => {
  const config = (user: string, pass: string): string =>
    JSON.stringify({
      auths: { [`http://FRONT/v1/`]: { auth: Buffer.from(`${user}:${pass}`).toString('base64') } },
    }).replace('FRONT', front.host)

  function bearerServer(): string[] {
    const tokenRequests: string[] = []
    front.handler.current = async (req, res, body) => {
      const url = new URL(req.url ?? '/', `http://${front.host}`)
      if (url.pathname === '/token') {
        tokenRequests.push(url.search)
        if (
          req.headers.authorization !== `Basic ${Buffer.from('alice:s3cret').toString('base64')}`
        ) {
          res.writeHead(401).end()
          return
        }
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ access_token: `tok-${tokenRequests.length}` }))
        return
      }
      if (!(req.headers.authorization ?? '').startsWith('Bearer tok-')) {
        res.writeHead(401, {
          'www-authenticate': `Bearer realm="http://${front.host}/token",service="test-registry",scope="repository:test/app:pull"`,
        })
        res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}')
        return
      }
      await proxy(req, res, body)
    }
    return tokenRequests
  }

  it('answers a Bearer challenge with credentials from a docker config, and caches the token', async () => {
    const tokenRequests = bearerServer()
    const docker = parseDockerConfig(config('alice', 's3cret'))
    const c = client({ credentials: (r) => dockerCredentialsFor(docker, r) })
    const resolved = await c.resolveImage(ref())
    expect(resolved.digest).toBe(image.manifestDigest)
    await c.fetchBlob(resolved.repository, resolved.manifest.config)
    expect(tokenRequests).toEqual(['?service=test-registry&scope=repository%3Atest%2Fapp%3Apull'])
  })

  it('refuses wrong credentials, missing credentials and helper-only credentials', async () => {
    bearerServer()
    const wrong = parseDockerConfig(config('alice', 'wrong'))
    expect(
      await rejectedCode(
        client({ credentials: (r) => dockerCredentialsFor(wrong, r) }).resolveImage(ref()),
      ),
    ).toBe('ERR_REGISTRY_UNAUTHORIZED')
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_UNAUTHORIZED')
    const helper = parseDockerConfig(JSON.stringify({ credHelpers: { [front.host]: 'ecr-login' } }))
    expect(
      await rejectedCode(
        client({ credentials: (r) => dockerCredentialsFor(helper, r) }).resolveImage(ref()),
      ),
    ).toBe('ERR_REGISTRY_CREDENTIAL_HELPER')
  })

  it('refuses an identity-token entry before sending the placeholder password beside it', async () => {
    bearerServer()
    const acr = parseDockerConfig(
      JSON.stringify({
        auths: {
          [front.host]: {
            auth: Buffer.from('00000000-0000-0000-0000-000000000000:').toString('base64'),
            identitytoken: 'refresh-token',
          },
        },
      }),
    )
    expect(
      await rejectedCode(client({ credentials: dockerConfigCredentials(acr) }).resolveImage(ref())),
    ).toBe('ERR_REGISTRY_IDENTITY_TOKEN')
    expect(log).toEqual([`GET /v2/test/app/manifests/v1 -`])
  })

  it('refuses a plain-http token realm that is not listed as insecure', async () => {
    // The registry is listed, but its token realm is another (unlisted) origin: refused before
    // any credentials are sent there.
    front.handler.current = (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="http://127.0.0.1:9/token"' }).end()
    }
    const c = client({ credentials: () => ({ username: 'u', password: 'p' }) })
    expect(await rejectedCode(c.resolveImage(ref()))).toBe('ERR_REGISTRY_INSECURE_REALM')
  })

  it('refuses a token that cannot be sent in a header with a coded error, not a TypeError', async () => {
    front.handler.current = (req, res) => {
      if ((req.url ?? '').startsWith('/token')) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ token: 'tok\r\nX-Injected: 1' }))
        return
      }
      res.writeHead(401, { 'www-authenticate': `Bearer realm="http://${front.host}/token"` }).end()
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_TOKEN')
  })

  it('stops reading an endless token response or error body at its limit', async () => {
    const endless = (res: ServerResponse, status: number): void => {
      res.writeHead(status, { 'content-type': 'application/json' })
      const chunk = Buffer.alloc(64 * 1024, 0x20)
      const pump = (): void => {
        while (res.write(chunk)) {
          if (res.destroyed) return
        }
        res.once('drain', pump)
      }
      res.on('error', () => undefined)
      pump()
    }
    front.handler.current = (req, res) => {
      if ((req.url ?? '').startsWith('/token')) endless(res, 200)
      else
        res
          .writeHead(401, { 'www-authenticate': `Bearer realm="http://${front.host}/token"` })
          .end()
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_TOKEN')
    front.handler.current = (_req, res) => {
      endless(res, 404)
    }
    expect(await rejectedCode(client().resolveImage(ref()))).toBe('ERR_REGISTRY_NOT_FOUND')
  })

  it('uses a namespace-scoped auths entry only for that namespace, the most specific first', async () => {
    const basic = (user: string): string =>
      `Basic ${Buffer.from(`${user}:${user}-pw`).toString('base64')}`
    front.handler.current = async (req, res, body) => {
      if (req.headers.authorization !== basic('bob')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const withAuths = (users: Record<string, string>): RegistryClient => {
      const auths = Object.fromEntries(
        Object.entries(users).map(([key, user]) => [
          key.replace('FRONT', front.host),
          { auth: Buffer.from(`${user}:${user}-pw`).toString('base64') },
        ]),
      )
      return client({
        credentials: dockerConfigCredentials(parseDockerConfig(JSON.stringify({ auths }))),
      })
    }
    // containers-auth.json(5): test/app is served by FRONT/test/app, before FRONT/test and FRONT;
    // another namespace's entry (listed first) is never used for it.
    const c = withAuths({
      'FRONT/team-a': 'alice',
      FRONT: 'carol',
      'FRONT/test': 'dave',
      'FRONT/test/app': 'bob',
    })
    const resolved = await c.resolveImage(ref())
    expect(resolved.digest).toBe(image.manifestDigest)
    await c.fetchBlob(resolved.repository, resolved.manifest.config)
    // Only another namespace's entry: anonymous, and alice's password is never sent.
    log.length = 0
    expect(await rejectedCode(withAuths({ 'FRONT/team-a': 'alice' }).resolveImage(ref()))).toBe(
      'ERR_REGISTRY_UNAUTHORIZED',
    )
    expect(log).toEqual([`GET /v2/test/app/manifests/v1 -`])
  })

  it('answers a Basic challenge', async () => {
    front.handler.current = async (req, res, body) => {
      if (req.headers.authorization !== `Basic ${Buffer.from('bob:pw').toString('base64')}`) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="registry"' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const c = client({ credentials: () => ({ username: 'bob', password: 'pw' }) })
    expect((await c.resolveImage(ref())).digest).toBe(image.manifestDigest)
  })
})

describe('retries', () => {
  it('retries 5xx and 429, honouring Retry-After, then succeeds', async () => {
    let failures = 2
    front.handler.current = async (req, res, body) => {
      if (failures-- > 0) {
        res.writeHead(failures === 1 ? 503 : 429, { 'retry-after': '2' }).end()
        return
      }
      await proxy(req, res, body)
    }
    const waits: number[] = []
    const c = client({
      sleep: (ms) => {
        waits.push(ms)
        return Promise.resolve()
      },
    })
    expect((await c.resolveImage(ref())).digest).toBe(image.manifestDigest)
    expect(waits).toEqual([2000, 2000])
  })

  it('gives up after the attempts, and does not retry a 404', async () => {
    front.handler.current = (_req, res) => {
      res.writeHead(502).end()
    }
    const waits: number[] = []
    const error = await client({
      attempts: 3,
      sleep: (ms) => {
        waits.push(ms)
        return Promise.resolve()
      },
    })
      .resolveImage(ref())
      .catch((e: unknown) => e)
    expect(isInitguardError(error) && error.toJSON()).toMatchObject({
      code: 'ERR_REGISTRY_STATUS',
      category: 'unavailable',
      details: { status: 502, url: `http://${front.host}/v2/test/app/manifests/v1` },
    })
    expect(waits).toHaveLength(2)
    // Exponential with jitter: each wait lies in [d/2, d] for d = 1, 2.
    expect(waits[0]).toBeGreaterThanOrEqual(0.5)
    expect(waits[0]).toBeLessThanOrEqual(1)
    expect(waits[1]).toBeGreaterThanOrEqual(1)
    expect(waits[1]).toBeLessThanOrEqual(2)
    log.length = 0
    front.handler.current = undefined
    expect(await rejectedCode(client().resolveImage(`${front.host}/test/app:missing`))).toBe(
      'ERR_REGISTRY_NOT_FOUND',
    )
    expect(log).toHaveLength(1)
  })

  it('retries a body cut short, and times out a stalled one', async () => {
    let cut = true
    front.handler.current = async (req, res, body) => {
      if (req.url?.includes('/blobs/') === true && cut) {
        cut = false
        res.writeHead(200, { 'content-length': String(image.layer.length) })
        res.write(image.layer.subarray(0, 10))
        setTimeout(() => res.destroy(), 20)
        return
      }
      await proxy(req, res, body)
    }
    const c = client()
    const bytes = await c.fetchBlob(`${front.host}/test/app`, image.layerDescriptor)
    expect(computeDigest(bytes)).toBe(image.layerDescriptor.digest)
    expect(cut).toBe(false)

    front.handler.current = (_req, res) => {
      res.writeHead(200, { 'content-length': String(image.layer.length) })
      res.write(image.layer.subarray(0, 10)) // …and never more
    }
    const error = await client({ timeoutMs: 200, attempts: 2 })
      .fetchBlob(`${front.host}/test/app`, image.layerDescriptor)
      .catch((e: unknown) => e)
    expect(isInitguardError(error) && error.code).toBe('ERR_REGISTRY_UNREACHABLE')
    expect(isInitguardError(error) && String(error.details['reason'])).toMatch(/timed out/)
  })
})

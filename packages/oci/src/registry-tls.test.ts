/**
 * Registries and lookaside stores over https verify the server's certificate whatever the
 * environment says: an impostor on loopback with a certificate no trusted root issued is refused
 * during the handshake, also with `NODE_TLS_REJECT_UNAUTHORIZED=0`, so it never sees a request,
 * let alone the registry credentials (`ERR_REGISTRY_TLS`, `ERR_LOOKASIDE_TLS`: verification
 * failures, one attempt).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import {
  VERIFICATION_ENVIRONMENTS,
  loopbackCertificate,
  startServer,
  type TestServer,
} from '../../http/src/http-test-support.ts'
import { readLookasideSignatures } from './lookaside.ts'
import { RegistryClient } from './registry-client.ts'

let impostor: TestServer
/** The Authorization headers the impostor received. */
const credentialsSeen: string[] = []

beforeAll(async () => {
  impostor = await startServer(loopbackCertificate())
  // Asks for Basic credentials, as a registry does, and records what it is given.
  impostor.handler = (req, res) => {
    if (req.headers.authorization !== undefined) credentialsSeen.push(req.headers.authorization)
    res.writeHead(401, { 'www-authenticate': 'Basic realm="impostor"' }).end()
  }
})
afterAll(async () => {
  await impostor.close()
})

const noSleep = (): Promise<void> => Promise.resolve()

describe('registry and lookaside downloads over https', () => {
  for (const { name, run } of VERIFICATION_ENVIRONMENTS) {
    it(`a registry with an untrusted certificate is ERR_REGISTRY_TLS, no credentials sent, ${name}`, async () => {
      const host = new URL(impostor.origin).host
      const client = new RegistryClient({
        credentials: () => ({ username: 'robot', password: 's3cret' }),
        sleep: noSleep,
      })
      const seen = impostor.log.length
      const error = await run(() => rejected(client.getManifest(`${host}/apps/private`, 'v1')))
      expect([error.code, error.category]).toEqual(['ERR_REGISTRY_TLS', 'verification'])
      expect(error.details).toMatchObject({ reason: 'DEPTH_ZERO_SELF_SIGNED_CERT', attempts: 1 })
      expect(impostor.log.length).toBe(seen)
      expect(credentialsSeen).toEqual([])
    })

    it(`a lookaside store with an untrusted certificate is ERR_LOOKASIDE_TLS, ${name}`, async () => {
      const seen = impostor.log.length
      const error = await run(() =>
        rejected(
          readLookasideSignatures(
            new URL(`${impostor.origin}/sigstore/apps/private`),
            `sha256:${'a'.repeat(64)}`,
            { sleep: noSleep },
          ),
        ),
      )
      expect([error.code, error.category]).toEqual(['ERR_LOOKASIDE_TLS', 'verification'])
      expect(impostor.log.length).toBe(seen)
    })
  }
})

/**
 * AMD KDS and Intel PCS over https verify the server's certificate whatever the environment says:
 * an impostor on loopback with a certificate no trusted root issued is refused during the
 * handshake (`ERR_KDS_TLS`, `ERR_PCS_TLS`, a verification failure, one attempt), also with
 * `NODE_TLS_REJECT_UNAUTHORIZED=0`, so it can never serve a VCEK, a CRL or TCB info.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories, rejected } from '@initguard/testkit'
import {
  VERIFICATION_ENVIRONMENTS,
  loopbackCertificate,
  startServer,
  type TestServer,
} from '../../http/src/http-test-support.ts'
import { AmdKdsClient } from './amd-kds.ts'
import { IntelPcsClient } from './intel-pcs.ts'

const scratch = new ScratchDirectories()
let impostor: TestServer

beforeAll(async () => {
  impostor = await startServer(loopbackCertificate())
  impostor.handler = (_req, res) => res.writeHead(200).end(Buffer.from([0x30, 0x00]))
})
afterAll(async () => {
  await impostor.close()
  scratch.removeAll()
})

const noSleep = (): Promise<void> => Promise.resolve()

/** One download from each service, from the impostor. */
const DOWNLOADS: readonly (readonly [string, string, () => Promise<unknown>])[] = [
  [
    'AMD KDS',
    'ERR_KDS_TLS',
    () =>
      new AmdKdsClient({
        baseUrl: impostor.origin,
        cacheDir: scratch.make('initguard-kds-tls-'),
        sleep: noSleep,
      }).vcek('Milan', new Uint8Array(64).fill(1), { bootloader: 1, tee: 0, snp: 1, microcode: 1 }),
  ],
  [
    'Intel PCS',
    'ERR_PCS_TLS',
    () =>
      new IntelPcsClient({
        baseUrl: impostor.origin,
        cacheDir: scratch.make('initguard-pcs-tls-'),
        sleep: noSleep,
      }).collateral({ tee: 'tdx', fmspc: '50806f000000', ca: 'platform' }),
  ],
]

describe('collateral downloads over https', () => {
  for (const { name, run } of VERIFICATION_ENVIRONMENTS)
    for (const [service, code, download] of DOWNLOADS)
      it(`${service}: an untrusted certificate is ${code} at once, ${name}`, async () => {
        const seen = impostor.log.length
        const error = await run(() => rejected(download()))
        expect([error.code, error.category]).toEqual([code, 'verification'])
        expect(error.details).toMatchObject({ reason: 'DEPTH_ZERO_SELF_SIGNED_CERT', attempts: 1 })
        expect(impostor.log.length).toBe(seen)
      })
})

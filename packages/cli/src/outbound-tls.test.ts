/**
 * The CLI's outbound https requests verify the server's certificate whatever the environment
 * says: `kbs admin` without `--ca` (Node's built-in roots) against an impostor on loopback whose
 * certificate no trusted root issued exits 4 (`ERR_KBS_TLS`) before the admin token leaves the
 * process, also with `NODE_TLS_REJECT_UNAUTHORIZED=0`. The registries, AMD KDS, Intel PCS and
 * lookaside stores go through the same client (`packages/http`), tested there and in their
 * packages.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  VERIFICATION_ENVIRONMENTS,
  loopbackCertificate,
  startServer,
  type TestServer,
} from '../../http/src/http-test-support.ts'
import { jsonError, kbsKeygen, runInProcess } from './cli-test-support.ts'

let impostor: TestServer
let dir: string

beforeAll(async () => {
  impostor = await startServer(loopbackCertificate())
  impostor.handler = (_req, res) =>
    res.writeHead(200, { 'content-type': 'application/json' }).end('[]')
  dir = await mkdtemp(join(tmpdir(), 'initguard-outbound-tls-'))
  await kbsKeygen(join(dir, 'admin'))
})
afterAll(async () => {
  await impostor.close()
  await rm(dir, { recursive: true, force: true })
})

describe('outbound https from the CLI', () => {
  for (const { name, run } of VERIFICATION_ENVIRONMENTS) {
    it(`kbs admin to a server with an untrusted certificate: exit 4, no request sent, ${name}`, async () => {
      const args = [
        ...['kbs', 'admin', '--url', impostor.origin, '--admin-key', join(dir, 'admin.key')],
        ...['workload', 'list', '--json'],
      ]
      const cli = await run(() => runInProcess(args))
      expect(cli.code, cli.stdout + cli.stderr).toBe(4)
      expect(jsonError(cli).code).toBe('ERR_KBS_TLS')
      expect(impostor.log).toEqual([])
    })
  }

  it('kbs admin without --ca: the hint says a KBS certificate is given with --ca, and where it is', async () => {
    const args = [
      ...['kbs', 'admin', '--url', impostor.origin, '--admin-key', join(dir, 'admin.key')],
      ...['workload', 'list'],
    ]
    const cli = await runInProcess(args)
    expect(cli.code, cli.stderr).toBe(4)
    expect(cli.stderr).toContain('code: ERR_KBS_TLS')
    expect(cli.stderr).toMatch(/hint: .*--ca .*tls\/kbs-cert\.pem/)
    const json = jsonError(await runInProcess([...args, '--json']))
    expect(json.code).toBe('ERR_KBS_TLS')
    expect(json.hint).toContain('--ca')
    expect(impostor.log).toEqual([])
  })

  it('kbs admin with a --ca the server does not match keeps the general hint', async () => {
    const args = [
      ...['kbs', 'admin', '--url', impostor.origin, '--admin-key', join(dir, 'admin.key')],
      ...['--ca', join(dir, 'admin.pub'), 'workload', 'list'],
    ]
    const cli = await runInProcess(args)
    expect(cli.code, cli.stderr).not.toBe(0)
    expect(cli.stderr).not.toMatch(/hint: .*give the KBS's certificate with --ca/)
  })
})

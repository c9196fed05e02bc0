/**
 * `kbs get-resource --json` prints one JSON object, as every command with --json does: the secret
 * in base64 (it may be any bytes), or with --out where it was written; never the raw secret.
 */
import { lstatSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from '../../../kbs/src/service/kbs-test-support.ts'
import { runInProcess } from '../cli-test-support.ts'

const SECRET = 'correct horse battery staple'
const scratch = new ScratchDirectories()
let kbs: TestKbs
let dir = ''
let args: string[] = []

beforeAll(async () => {
  kbs = await startTestKbs()
  dir = scratch.make('initguard-get-resource-')
  const document = initdataToml('get-resource')
  const initdata = join(dir, 'initdata.toml')
  writeFileSync(initdata, document)
  const pin = join(dir, 'kbs-cert.pem')
  writeFileSync(pin, kbs.kbs.tls?.certPem ?? '')
  const put = await kbs.adminCall(
    'PUT',
    '/kbs/v0/admin/workloads/app',
    simulatorWorkload([document]),
  )
  expect(put.status).toBe(200)
  expect(await uploadResource(kbs, 'default/app/password', SECRET)).toBe(200)
  args = [
    ...['kbs', 'get-resource', '--url', kbs.kbs.url, '--pin', pin],
    ...['--sim-dir', kbs.simulator.dir, '--tee', 'snp', '--initdata', initdata],
    ...['--path', 'default/app/password'],
  ]
}, 120_000)

afterAll(async () => {
  await kbs.stop()
  scratch.removeAll()
})

describe('initguard kbs get-resource --json', () => {
  it('prints the secret itself without --json', async () => {
    const run = await runInProcess(args)
    expect(run.code, run.stderr).toBe(0)
    expect(run.stdout).toBe(SECRET)
  })

  it('prints one JSON object with the secret in base64', async () => {
    const run = await runInProcess([...args, '--json'])
    expect(run.code, run.stderr).toBe(0)
    const json = JSON.parse(run.stdout) as Record<string, unknown>
    expect(json).toMatchObject({ ok: true, path: 'default/app/password', size: SECRET.length })
    expect(Buffer.from(String(json['value_base64']), 'base64').toString()).toBe(SECRET)
  })

  it('with --out, says where it wrote (0600) and prints no secret', async () => {
    const out = join(dir, 'secret')
    const run = await runInProcess([...args, '--json', '--out', out])
    expect(run.code, run.stderr).toBe(0)
    const json = JSON.parse(run.stdout) as Record<string, unknown>
    expect(json).toMatchObject({ ok: true, output: out, size: SECRET.length })
    expect(run.stdout).not.toContain(Buffer.from(SECRET).toString('base64'))
    expect(readFileSync(out, 'utf8')).toBe(SECRET)
    expect(lstatSync(out).mode & 0o777).toBe(0o600)
  })
})

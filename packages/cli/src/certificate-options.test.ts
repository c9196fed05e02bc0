/**
 * A `--ca` or `--pin` file that holds no certificate (the admin public key given by mistake, the
 * KBS's data directory's private key) is refused naming the option and the file, and saying which
 * file the KBS's certificate is: not "the CA certificate holds no PEM certificate", which names
 * neither. Refused before anything is sent.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, jsonError, kbsKeygen, runInProcess } from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})
const dir = scratch.make('initguard-certificate-options-')
const at = (name: string): string => join(dir, name)

beforeAll(async () => {
  await kbsKeygen(at('admin'))
  writeFileSync(at('empty.pem'), '')
})

/** Nothing listens here: a request that got as far as the network would fail with exit 6. */
const URL = 'https://127.0.0.1:9'

describe('a --ca or --pin file that is no certificate', () => {
  const cases: [string, () => string[], string, string][] = [
    [
      'kbs admin --ca the admin public key',
      () => [
        ...['kbs', 'admin', '--url', URL, '--ca', at('admin.pub')],
        ...['--admin-key', at('admin.key'), 'workload', 'list'],
      ],
      '--ca',
      at('admin.pub'),
    ],
    [
      'kbs get-resource --pin the admin public key',
      () => [
        ...['kbs', 'get-resource', '--url', URL, '--pin', at('admin.pub')],
        ...['--sim-dir', at('sim'), '--tee', 'snp', '--initdata', at('x.toml'), '--path', 'a/b/c'],
      ],
      '--pin',
      at('admin.pub'),
    ],
    [
      'kbs get-resource --ca an empty file',
      () => [
        ...['kbs', 'get-resource', '--url', URL, '--ca', at('empty.pem')],
        ...['--sim-dir', at('sim'), '--tee', 'snp', '--initdata', at('x.toml'), '--path', 'a/b/c'],
      ],
      '--ca',
      at('empty.pem'),
    ],
  ]
  it.each(cases)('%s: exit 3, naming the option and the file', async (_n, args, option, file) => {
    const run = await runInProcess(args())
    expectRefused(run, 3, 'ERR_TLS_CERTIFICATE_INVALID')
    const first = run.stderr.split('\n')[0] ?? ''
    expect(first).toContain(`${option} ${file}`)
    expect(run.stderr).toMatch(/hint: .*kbs-cert\.pem/)
    const json = jsonError(await runInProcess([...args(), '--json']))
    expect(json.code).toBe('ERR_TLS_CERTIFICATE_INVALID')
    expect(json.details['option']).toBe(option)
  })
})

/**
 * A `--trust-root` file that holds the wrong certificates is malformed input (exit 3, with a hint
 * saying what belongs there), as a wrong `--intel-root` is: not a usage error without a hint.
 */
import { X509Certificate } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess, syntheticSnpVerify } from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

const dir = scratch.make('initguard-trust-root-')
const args = syntheticSnpVerify(dir, 'Milan', {})
const withRoots = (pem: string): string[] => {
  const path = join(dir, `roots-${String(Math.random()).slice(2, 8)}.pem`)
  writeFileSync(path, pem)
  const at = args.indexOf('--trust-root')
  return [...args.slice(0, at + 1), path, ...args.slice(at + 2)]
}
const blocks = readFileSync(join(dir, 'roots.pem'), 'utf8').match(
  /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g,
)

describe('evidence verify --trust-root', () => {
  it('verifies under the test PKI roots', async () => {
    const run = await runInProcess(args)
    expect(run.code, run.stderr).toBe(0)
  })

  it('refuses a VCEK among the roots (exit 3), saying it goes to --certs', async () => {
    const vcek = new X509Certificate(readFileSync(join(dir, 'vcek.der'))).toString()
    const run = await runInProcess(withRoots(vcek))
    expectRefused(run, 3, 'ERR_TRUST_ROOT_CERTIFICATE')
    expect(run.stderr).toContain('--certs')
  })

  it('refuses an ASK without its ARK (exit 3), naming the ARK to add', async () => {
    const ask = (blocks ?? []).find((pem) => new X509Certificate(pem).subject.includes('CN=SEV-'))
    expect(ask).toBeDefined()
    const run = await runInProcess(withRoots(ask ?? ''))
    expectRefused(run, 3, 'ERR_TRUST_ROOT_NO_ARK')
    expect(run.stderr).toContain('add ARK-Milan')
  })
})

/**
 * Where `image check|pull` take their policy from: options that only apply to one source are
 * refused with the other, never ignored (so no one believes an initdata binding was checked).
 */
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { expectRefused, runInProcess } from '../cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

/** A policy that rejects everything: decided before anything is fetched, so no registry. */
const REJECT = '{"default":[{"type":"reject"}],"transports":{}}'
const REFERENCE = 'registry.invalid/team/app:1'
let dir = ''
let policy = ''
beforeAll(() => {
  dir = scratch.make('initguard-image-input-')
  policy = join(dir, 'policy.json')
  writeFileSync(policy, REJECT)
})

describe('image check --policy with the options of --initdata', () => {
  it('is decided (exit 5) with --policy alone', async () => {
    expect((await runInProcess(['image', 'check', REFERENCE, '--policy', policy])).code).toBe(5)
  })

  for (const extra of [
    ['--tee', 'snp'],
    ['--expected', '00'.repeat(32)],
    ['--tee', 'snp', '--expected', '00'.repeat(32)],
    ['--encoding', 'hex'],
    ['--from', 'toml'],
  ])
    it(`refuses ${extra.filter((a) => a.startsWith('--')).join(' ')} (exit 2), checks nothing`, async () => {
      for (const command of ['check', 'pull']) {
        const dest = command === 'pull' ? [join(dir, 'dest')] : []
        const run = await runInProcess([
          'image',
          command,
          REFERENCE,
          ...dest,
          '--policy',
          policy,
          ...extra,
        ])
        expectRefused(run, 2, 'ERR_OPTION_NOT_APPLICABLE')
        expect(run.stderr).toContain('only with --initdata')
      }
    })
})

describe('image check --initdata whose cdh.toml names a sigstore config', () => {
  it("refuses --registries-d, which would be ignored for the document's own", async () => {
    const cdh = join(dir, 'cdh.toml')
    writeFileSync(
      cdh,
      `[image]\nimage_security_policy = '${REJECT}'\nsigstore_config = "default-docker:\\n  lookaside: https://sigs.invalid\\n"\n`,
    )
    const doc = join(dir, 'initdata.toml')
    expect((await runInProcess(['initdata', 'build', '--cdh', cdh, '-o', doc])).code).toBe(0)
    const expected = (await runInProcess(['initdata', 'digest', doc, '--tee', 'snp'])).stdout.trim()
    const registriesD = join(dir, 'registries.d')
    mkdirSync(registriesD)
    const base = [
      'image',
      'check',
      REFERENCE,
      '--initdata',
      doc,
      '--tee',
      'snp',
      '--expected',
      expected,
    ]
    expect((await runInProcess(base)).code).toBe(5)
    const run = await runInProcess([...base, '--registries-d', registriesD])
    expectRefused(run, 2, 'ERR_OPTION_NOT_APPLICABLE')
    expect(run.stderr).toContain('image.sigstore_config')
  })
})

describe('image check --insecure-registry', () => {
  it('refuses what can never name a registry (a scheme, a path), which would leave HTTPS in use', async () => {
    for (const [value, hint] of [
      ['http://localhost:5000', 'drop the scheme'],
      ['localhost:5000/team', 'without a path'],
    ] as const) {
      const run = await runInProcess([
        ...['image', 'check', REFERENCE, '--policy', policy],
        ...['--insecure-registry', value],
      ])
      expectRefused(run, 2, 'ERR_OPTION_VALUE')
      expect(run.stderr).toContain(hint)
    }
    const plain = ['--insecure-registry', 'localhost:5000', '--insecure-registry', '[::1]:5000']
    expect(
      (await runInProcess(['image', 'check', REFERENCE, '--policy', policy, ...plain])).code,
    ).toBe(5)
  })
})

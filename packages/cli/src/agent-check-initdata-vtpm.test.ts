/**
 * `initguard agent check-initdata --tee vtpm` end to end against a real TPM (swtpm on a Unix
 * socket given as `--tpm`; tpm2-tools read PCR 8 independently): a fresh TPM binds (exit 0, PCR 8
 * = `initdata digest --tee vtpm`), a second run finds it bound, a sha384 document and a PCR 8
 * holding another binding exit 5 with PCR 8 unchanged, a missing TPM exits 6. The vTPM is only
 * ever explicit: its `--tpm` is refused with other TEEs, the other TEEs' options with it, and the
 * commands that attest (`agent start`, `agent pull-image`) refuse `--tee vtpm`.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories, startUnixSwtpm } from '@initguard/testkit'
import { jsonError, runInProcess as run } from './cli-test-support.ts'

const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "[token_configs.kbs]\\nurl = \\"https://kbs.example\\"\\n"\n'

const scratch = new ScratchDirectories()
let dir: string
let document: string
let sha384: string

beforeAll(() => {
  dir = scratch.make('initguard-agent-vtpm-')
  document = join(dir, 'initdata.toml')
  writeFileSync(document, DOCUMENT)
  sha384 = join(dir, 'sha384.toml')
  writeFileSync(sha384, DOCUMENT.replace('sha256', 'sha384'))
})
afterAll(() => {
  scratch.removeAll()
})

const bind = (tpm: string, file: string, ...extra: string[]) =>
  run(['agent', 'check-initdata', '--initdata', file, '--tee', 'vtpm', '--tpm', tpm, ...extra])

/** What `initguard initdata digest FILE --tee vtpm` says PCR 8 must hold. */
async function expectedPcr8(file: string): Promise<string> {
  const out = await run(['initdata', 'digest', file, '--tee', 'vtpm'])
  expect(out.code, out.stderr).toBe(0)
  return out.stdout.trim()
}

describe('agent check-initdata --tee vtpm', () => {
  it('a fresh TPM: exit 0, extended, PCR 8 = `initdata digest --tee vtpm`; again: already bound', async () => {
    await using tpm = await startUnixSwtpm()
    const first = await bind(tpm.socketPath, document)
    expect(first.code, first.stderr).toBe(0)
    const value = await expectedPcr8(document)
    expect(first.stdout).toContain('init-data bound to the vTPM: extended into PCR 8 now')
    expect(first.stdout).toContain(`value:  ${value}`)
    expect(first.stdout).toContain(`tee:    vtpm: vTPM swtpm socket ${tpm.socketPath}`)
    expect(first.stderr).toContain('its KBS does not verify vTPM evidence')
    expect(Buffer.from(await tpm.readPcr(8, 'sha256')).toString('hex')).toBe(value)
    const again = await bind(tpm.socketPath, document, '--json')
    expect(again.code, again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({
      ok: true,
      verified: false,
      bound: true,
      tee: 'vtpm',
      outcome: 'already-bound',
      field: 'vTPM PCR 8 (SHA-256 bank)',
      value,
      algorithm: 'sha256',
      source: { kind: 'file', path: document },
    })
    expect(Buffer.from(await tpm.readPcr(8, 'sha256')).toString('hex')).toBe(value)
  })

  it('--out COPY: the bound bytes written 0600 after the bind; no copy when the bind is refused', async () => {
    await using tpm = await startUnixSwtpm()
    const copy = join(dir, 'bound-copy.toml')
    const out = await bind(tpm.socketPath, document, '--out', copy, '--json')
    expect(out.code, out.stderr).toBe(0)
    expect(JSON.parse(out.stdout)).toMatchObject({ bound: true, out: copy })
    expect(readFileSync(copy, 'utf8')).toBe(DOCUMENT)
    expect(statSync(copy).mode & 0o777).toBe(0o600)
    const refusedCopy = join(dir, 'refused-copy.toml')
    const refused = await bind(tpm.socketPath, sha384, '--out', refusedCopy)
    expect(refused.code).toBe(5)
    expect(existsSync(refusedCopy)).toBe(false)
  })

  it('a sha384 document: exit 5, ERR_INITDATA_VTPM_DIGEST_LENGTH naming sha256; PCR 8 untouched', async () => {
    await using tpm = await startUnixSwtpm()
    const out = await bind(tpm.socketPath, sha384, '--json')
    expect(out.code).toBe(5)
    const error = jsonError(out)
    expect(error.code).toBe('ERR_INITDATA_VTPM_DIGEST_LENGTH')
    expect(error.hint).toContain('algorithm = "sha256"')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
  })

  it('PCR 8 holding another binding: exit 5, ERR_VTPM_PCR8_TAKEN, PCR 8 unchanged', async () => {
    await using tpm = await startUnixSwtpm()
    await tpm.extendPcr(8, 'sha256', new Uint8Array(createHash('sha256').update('x').digest()))
    const held = await tpm.readPcr(8, 'sha256')
    const out = await bind(tpm.socketPath, document)
    expect(out.code).toBe(5)
    expect(out.stderr).toContain('code: ERR_VTPM_PCR8_TAKEN')
    expect(await tpm.readPcr(8, 'sha256')).toEqual(held)
  })

  it('no TPM at --tpm: exit 6, ERR_TPM_UNAVAILABLE', async () => {
    const out = await bind(join(dir, 'no-tpm'), document)
    expect(out.code).toBe(6)
    expect(out.stderr).toContain('code: ERR_TPM_UNAVAILABLE')
  })

  it.each([
    ['--sim-dir', 'sim'],
    ['--sim-guest', 'web'],
    ['--snp-vmpl', '0'],
    ['--allow-unbound-initdata'],
  ])(
    '%s with --tee vtpm: exit 2, ERR_OPTION_NOT_APPLICABLE, the TPM not touched',
    async (...option) => {
      await using tpm = await startUnixSwtpm()
      const out = await bind(tpm.socketPath, document, ...option)
      expect(out.code, out.stderr).toBe(2)
      expect(out.stderr).toContain('code: ERR_OPTION_NOT_APPLICABLE')
      expect(out.stderr).toContain(option[0])
      expect(await tpm.readPcr(8, 'sha256')).toEqual(new Uint8Array(32))
    },
  )

  it.each(['auto', 'snp', 'tdx', 'sgx'])(
    '--tpm with --tee %s: exit 2, ERR_OPTION_NOT_APPLICABLE (never silently another TEE)',
    async (tee) => {
      const out = await run([
        'agent',
        'check-initdata',
        '--initdata',
        document,
        '--tee',
        tee,
        '--tpm',
        '/dev/tpmrm0',
      ])
      expect(out.code).toBe(2)
      expect(out.stderr).toContain('--tpm applies only to --tee vtpm')
    },
  )

  it.each([
    ['start', []],
    ['pull-image', ['docker.io/library/busybox:latest', 'never-written']],
  ])('agent %s --tee vtpm: exit 2, ERR_AGENT_VTPM_NOT_ATTESTABLE', async (command, rest) => {
    const out = await run(['agent', command, '--initdata', document, '--tee', 'vtpm', ...rest])
    expect(out.code, out.stderr).toBe(2)
    expect(out.stderr).toContain('code: ERR_AGENT_VTPM_NOT_ATTESTABLE')
    expect(out.stderr).toContain('agent check-initdata --tee vtpm')
  })

  it('is in the help, with --tpm', async () => {
    const help = await run(['agent', 'check-initdata', '--help'])
    expect(help.stdout).toContain('--tpm')
    expect(help.stdout).toContain('vtpm')
  })
})

/**
 * `initguard agent check-initdata` end to end on simulated guests made by `sim init` and
 * `sim launch`: the honest document (0, each --from), a document changed after launch (5 with
 * the values expected and found), malformed input (3), the sim options (2 when missing or given
 * with a hardware --tee), an unknown guest, and a hardware TEE that is not there (its own code).
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { bytesToHex } from '@initguard/core'
import {
  bindingFor,
  buildInitdataImage,
  encodeAnnotation,
  parseInitdata,
} from '@initguard/initdata'
import { jsonError, runInProcess as run, type CliRun } from './cli-test-support.ts'

const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = "[token_configs.kbs]\\nurl = \\"https://kbs.example\\"\\n"\n'
const encoded = new TextEncoder().encode(DOCUMENT)

let root: string
let sim: string
let initdata: string

const file = (name: string, content: string | Uint8Array): string => {
  const path = join(root, name)
  writeFileSync(path, content)
  return path
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'initguard-agent-cli-'))
  sim = join(root, 'sim')
  initdata = file('initdata.toml', DOCUMENT)
  expect((await run(['sim', 'init', '--sim-dir', sim])).code).toBe(0)
  for (const [tee, name] of [
    ['snp', 'web'],
    ['tdx', 'db'],
  ] as const) {
    const launched = await run([
      'sim',
      'launch',
      '--sim-dir',
      sim,
      '--tee',
      tee,
      '--initdata',
      initdata,
      '--name',
      name,
    ])
    expect(launched.code, launched.stderr).toBe(0)
  }
}, 120_000)

afterAll(() => {
  rmSync(root, { recursive: true, force: true })
})

const check = (path: string, ...extra: string[]): Promise<CliRun> =>
  run(['agent', 'check-initdata', '--initdata', path, ...extra])
const onSim = (guest = 'web'): string[] => ['--tee', 'sim', '--sim-dir', sim, '--sim-guest', guest]

describe('initguard agent check-initdata', () => {
  it('the honest document on SEV-SNP: exit 0 with tee, field, value and source', async () => {
    const out = await check(initdata, ...onSim())
    expect(out.code, out.stderr).toBe(0)
    const document = parseInitdata(encoded)
    const value = bytesToHex(bindingFor('snp', 'sha384', document.digest).value)
    expect(out.stdout).toContain('init-data verified')
    expect(out.stdout).toContain('SEV-SNP HOST_DATA')
    expect(out.stdout).toContain(value)
    expect(out.stdout).toContain(`file ${initdata}`)
    // sha384 cut to HOST_DATA's 32 bytes, and the simulator: both said on standard error.
    expect(out.stderr).toContain('truncated')
    expect(out.stderr).toContain('simulator')
  })

  it('--json on TDX', async () => {
    const out = await check(initdata, ...onSim('db'), '--json')
    expect(out.code, out.stderr).toBe(0)
    const document = parseInitdata(encoded)
    expect(JSON.parse(out.stdout)).toMatchObject({
      ok: true,
      verified: true,
      tee: 'tdx',
      simulated: true,
      field: 'TDX MRCONFIGID',
      value: bytesToHex(bindingFor('tdx', 'sha384', document.digest).value),
      source: { kind: 'file', path: initdata },
    })
  })

  it('--from annotation and --from image', async () => {
    const annotation = file('annotation.txt', encodeAnnotation(encoded))
    const image = file('data.img', buildInitdataImage(encoded))
    for (const [from, path] of [
      ['annotation', annotation],
      ['image', image],
    ] as const) {
      const out = await check(path, '--from', from, ...onSim(), '--json')
      expect(out.code, out.stderr).toBe(0)
      expect(JSON.parse(out.stdout)).toMatchObject({ verified: true, source: { kind: from, path } })
    }
  })

  it('a document changed after launch: exit 5 with the values expected and found', async () => {
    const changed = file('changed.toml', DOCUMENT.replace('kbs.example', 'evil.example'))
    const out = await check(changed, ...onSim())
    expect(out.code).toBe(5)
    const launched = bytesToHex(bindingFor('snp', 'sha384', parseInitdata(encoded).digest).value)
    expect(out.stderr).toContain('code: ERR_AGENT_INITDATA_MISMATCH')
    expect(out.stderr).toContain(`found ${launched}`)
    expect(out.stderr).toMatch(/expected [0-9a-f]{64}/)
    const json = jsonError(await check(changed, ...onSim(), '--json'))
    expect(json.code).toBe('ERR_AGENT_INITDATA_MISMATCH')
    expect(json.details).toMatchObject({ field: 'SEV-SNP HOST_DATA', found: launched })
  })

  it('the final newline lost: exit 5, and the hint says so', async () => {
    const out = await check(file('no-newline.toml', DOCUMENT.slice(0, -1)), ...onSim())
    expect(out.code).toBe(5)
    expect(out.stderr).toContain('final newline')
  })

  it('an image changed after launch: exit 5', async () => {
    const other = new TextEncoder().encode(DOCUMENT.replace('kbs.example', 'evil.example'))
    const out = await check(
      file('other.img', buildInitdataImage(other)),
      '--from',
      'image',
      ...onSim(),
    )
    expect(out.code).toBe(5)
  })

  it('malformed input: exit 3', async () => {
    const bad = await check(file('bad.toml', 'version = "0.1.0"\n'), ...onSim())
    expect(bad.code).toBe(3)
    expect(bad.stderr).toContain('code: ERR_INITDATA_MISSING_FIELD')
    const noMagic = await check(initdata, '--from', 'image', ...onSim())
    expect(noMagic.code).toBe(3)
    expect(noMagic.stderr).toContain('code: ERR_INITDATA_IMAGE_MAGIC')
  })

  it('--tee sim without --sim-dir or --sim-guest: exit 2', async () => {
    for (const args of [
      ['--tee', 'sim'],
      ['--tee', 'sim', '--sim-dir', sim],
      ['--tee', 'sim', '--sim-guest', 'web'],
    ]) {
      const out = await check(initdata, ...args)
      expect(out.code, args.join(' ')).toBe(2)
      expect(out.stderr).toContain('--tee sim needs')
    }
  })

  it('--sim-dir or --sim-guest with another --tee: exit 2, never ignored', async () => {
    for (const tee of ['auto', 'snp', 'tdx', 'sgx']) {
      const out = await check(initdata, '--tee', tee, '--sim-dir', sim, '--sim-guest', 'web')
      expect(out.code).toBe(2)
      expect(out.stderr).toContain('code: ERR_OPTION_NOT_APPLICABLE')
    }
    expect((await check(initdata, '--sim-guest', 'web')).code).toBe(2)
  })

  it('--from image without --initdata looks for the device by its magic (none in this /dev)', async () => {
    // A test machine is no Kata guest: the scan of /dev finds no initdata disk (or, as a user
    // who cannot read the disks, cannot tell). Either way a local error, never a usage error.
    const out = await run(['agent', 'check-initdata', '--from', 'image', ...onSim()])
    expect(out.code, out.stderr).toBe(7)
    expect(out.stderr).toMatch(/code: ERR_AGENT_INITDATA_DEVICE_(NOT_FOUND|UNREADABLE)/)
  })

  it('missing --initdata, or an unknown --tee or --from: exit 2', async () => {
    expect((await run(['agent', 'check-initdata', ...onSim()])).code).toBe(2)
    expect((await check(initdata, '--tee', 'cca')).code).toBe(2)
    expect((await check(initdata, '--from', 'yaml', ...onSim())).code).toBe(2)
  })

  it('a guest launched without init-data: exit 5 unless running unbound is allowed, then loudly', async () => {
    // A valid guest record whose launch digest is all zeros: what a TEE started without init-data reports.
    const record = JSON.parse(readFileSync(join(sim, 'guests', 'web.json'), 'utf8')) as Record<
      string,
      unknown
    >
    const zeros = '00'.repeat(32)
    const bare = { ...record, name: 'bare', algorithm: 'sha256', initdata_digest: zeros }
    writeFileSync(
      join(sim, 'guests', 'bare.json'),
      JSON.stringify({ ...bare, init_data_field: zeros }),
      { mode: 0o600 },
    )
    const refused = await check(initdata, ...onSim('bare'))
    expect(refused.code, refused.stderr).toBe(5)
    expect(refused.stderr).toContain('code: ERR_AGENT_INITDATA_NOT_BOUND')
    expect(refused.stderr).toContain('--allow-unbound-initdata')
    const unbound = await check(initdata, ...onSim('bare'), '--allow-unbound-initdata')
    expect(unbound.code, unbound.stderr).toBe(0)
    expect(unbound.stdout).toContain('NOT verified')
    expect(unbound.stderr).toContain('warning: UNBOUND')
    const json = await check(initdata, ...onSim('bare'), '--allow-unbound-initdata', '--json')
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, verified: false, unbound: true })
    // With the flag, a bound guest is still checked: a match is verified, a mismatch refused.
    const bound = await check(initdata, ...onSim('db'), '--allow-unbound-initdata', '--json')
    expect(JSON.parse(bound.stdout)).toMatchObject({ verified: true, tee: 'tdx' })
    const changed = file('changed-unbound.toml', DOCUMENT.replace('kbs.example', 'x.example'))
    expect((await check(changed, ...onSim(), '--allow-unbound-initdata')).code).toBe(5)
  })

  describe('--out COPY: the document as checked, for scripts (never the source read again)', () => {
    it('after a match: exactly the bytes digested (the TOML, whatever the --from), mode 0600', async () => {
      const image = file('out-data.img', buildInitdataImage(encoded))
      const annotation = file('out-annotation.txt', encodeAnnotation(encoded))
      for (const [from, path] of [
        ['toml', initdata],
        ['annotation', annotation],
        ['image', image],
      ] as const) {
        const dir = mkdtempSync(join(root, 'out-'))
        const copy = join(dir, 'initdata.toml')
        const out = await check(path, '--from', from, ...onSim(), '--out', copy, '--json')
        expect(out.code, out.stderr).toBe(0)
        expect(JSON.parse(out.stdout)).toMatchObject({ verified: true, out: copy })
        expect(readFileSync(copy), from).toEqual(Buffer.from(encoded))
        expect(statSync(copy).mode & 0o777).toBe(0o600)
        // Written beside COPY and renamed: nothing else is left in its directory.
        expect(readdirSync(dir)).toEqual(['initdata.toml'])
      }
      const text = await check(initdata, ...onSim(), '--out', join(root, 'text-copy.toml'))
      expect(text.stdout).toContain(`copy:   ${join(root, 'text-copy.toml')}`)
    })

    it('the source changed after the check: the copy still holds what matched', async () => {
      const source = file('changing.toml', DOCUMENT)
      const copy = join(root, 'changing-copy.toml')
      expect((await check(source, ...onSim(), '--out', copy)).code).toBe(0)
      // What a host can do to the initdata device between the check and a script's second read.
      writeFileSync(source, DOCUMENT.replace('kbs.example', 'evil.example'))
      expect(readFileSync(copy, 'utf8')).toBe(DOCUMENT)
      expect((await check(source, ...onSim())).code).toBe(5)
    })

    it('a mismatch writes nothing: no COPY, or the old one left as it was', async () => {
      const changed = file('out-changed.toml', DOCUMENT.replace('kbs.example', 'evil.example'))
      const fresh = join(root, 'never-written.toml')
      expect((await check(changed, ...onSim(), '--out', fresh)).code).toBe(5)
      expect(existsSync(fresh)).toBe(false)
      const old = file('old-copy.toml', 'an earlier copy')
      expect((await check(changed, ...onSim(), '--out', old)).code).toBe(5)
      expect(readFileSync(old, 'utf8')).toBe('an earlier copy')
    })

    it('with --allow-unbound-initdata: exit 2 before the TEE is opened', async () => {
      const copy = join(root, 'unbound-copy.toml')
      // A guest that does not exist: opening the TEE would exit 7 (ERR_SIM_GUEST_UNKNOWN).
      const out = await check(
        initdata,
        ...onSim('nobody'),
        '--allow-unbound-initdata',
        '--out',
        copy,
      )
      expect(out.code, out.stderr).toBe(2)
      expect(out.stderr).toContain('--out writes only a document the TEE vouches for')
      expect(existsSync(copy)).toBe(false)
    })

    it('a COPY that could not be written safely: exit 7 before the TEE is opened', async () => {
      const open = mkdtempSync(join(root, 'open-'))
      chmodSync(open, 0o777)
      const folder = mkdtempSync(join(root, 'folder-'))
      for (const [copy, reason] of [
        [join(open, 'initdata.toml'), 'could be replaced by another user'],
        [folder, 'a directory'],
      ] as const) {
        const out = await check(initdata, ...onSim('nobody'), '--out', copy, '--json')
        expect(out.code, out.stdout).toBe(7)
        expect(jsonError(out).code).toBe('ERR_AGENT_CHECKED_COPY')
        expect(jsonError(out).message).toContain(reason)
      }
      expect(readdirSync(open)).toEqual([])
      expect(readdirSync(folder)).toEqual([])
    })
  })

  it('a guest never launched: the simulator refuses with its own code', async () => {
    const out = await check(initdata, ...onSim('nobody'))
    expect(out.code).toBe(7)
    expect(out.stderr).toContain('code: ERR_SIM_GUEST_UNKNOWN')
  })

  it('a missing document: exit 7', async () => {
    expect((await check(join(root, 'missing.toml'), ...onSim())).code).toBe(7)
  })

  it('help lists the command and its options', async () => {
    const group = await run(['agent', '--help'])
    expect(group.stdout).toContain('check-initdata')
    const help = await run(['agent', 'check-initdata', '--help'])
    expect(help.code).toBe(0)
    for (const option of [
      '--initdata',
      '--from',
      '--tee',
      '--sim-dir',
      '--sim-guest',
      '--allow-unbound-initdata',
      '--out',
    ])
      expect(help.stdout).toContain(option)
    // Check-then-use, said where a script's author looks.
    expect(help.stdout).toContain('reads the file or device again reads whatever is there by then')
    expect(help.stdout).toContain('agent start --runtime-dir DIR')
  })

  it('refuses arguments (exit 2): the document is --initdata, never a stray word', async () => {
    const out = await check(initdata, ...onSim(), 'other.toml')
    expect(out.code, out.stderr).toBe(2)
    expect(out.stderr).toContain('takes no arguments')
  })
})

describe('initguard agent start refuses its usage errors before the check writes anything', () => {
  it('a non-loopback --listen is exit 2 with --runtime-dir left unmade (a retry is not blocked)', async () => {
    const runtime = join(root, 'run-refused')
    const out = await run([
      ...['agent', 'start', '--initdata', initdata, ...onSim()],
      ...['--listen', '0.0.0.0:0', '--runtime-dir', runtime],
    ])
    expect(out.code, out.stderr).toBe(2)
    expect(out.stderr).toContain('code: ERR_AGENT_LISTEN_NOT_LOOPBACK')
    // Nothing checked yet: not even the init-data line.
    expect(out.stderr).not.toContain('init-data verified')
    expect(existsSync(runtime)).toBe(false)
  })
})

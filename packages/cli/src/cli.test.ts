import { execFileSync, execSync, spawnSync } from 'node:child_process'
import { readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { EXAMPLES, exampleBuildArgs } from './cli-test-support.ts'
import { runCli } from './main.ts'

/** Scratch directories the tests make, removed after them all. */
const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

interface Result {
  code: number
  stdout: string
  stderr: string
  stdoutBytes: Buffer
}

async function run(args: string[], stdin = ''): Promise<Result> {
  const out: Buffer[] = []
  const err: Buffer[] = []
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => out.push(Buffer.from(c)) },
    stderr: { write: (c: string | Uint8Array) => err.push(Buffer.from(c)) },
    stdin: Readable.from([Buffer.from(stdin)]),
  })
  const stdoutBytes = Buffer.concat(out)
  return {
    code,
    stdout: stdoutBytes.toString(),
    stderr: Buffer.concat(err).toString(),
    stdoutBytes,
  }
}

const BIN = fileURLToPath(new URL('../bin/initguard.js', import.meta.url))
let dir: string
let doc: string

beforeAll(async () => {
  dir = scratch.make('initguard-cli-')
  doc = join(dir, 'initdata.toml')
  const built = await run(
    exampleBuildArgs('--data', `extra.json=${join(EXAMPLES, 'aa.toml')}`, '-o', doc),
  )
  expect(built.code, built.stderr).toBe(0)
})

function write(name: string, content: string | Uint8Array): string {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

describe('initguard initdata build', () => {
  it('is deterministic and embeds the files verbatim', async () => {
    const again = await run(exampleBuildArgs('--data', `extra.json=${join(EXAMPLES, 'aa.toml')}`))
    expect(again.code).toBe(0)
    expect(again.stdoutBytes.equals(readFileSync(doc))).toBe(true)
    const text = readFileSync(doc, 'utf8')
    expect(text).toContain(readFileSync(join(EXAMPLES, 'policy.rego'), 'utf8'))
    expect(text.startsWith('version = "0.1.0"\nalgorithm = "sha384"\n')).toBe(true)
  })

  it('picks the algorithm for a TEE and refuses a broken aa.toml', async () => {
    const snp = await run([
      'initdata',
      'build',
      '--aa',
      join(EXAMPLES, 'aa.toml'),
      '--for-tee',
      'snp',
      '--json',
      '-o',
      join(dir, 'snp.toml'),
    ])
    expect(JSON.parse(snp.stdout)).toMatchObject({ algorithm: 'sha256', keys: ['aa.toml'] })
    const broken = write('broken-aa.toml', '[token_configs\n')
    const refused = await run(['initdata', 'build', '--aa', broken])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('ERR_INITDATA_PART_TOML')
    expect(refused.stderr).toContain('line 1')
    // Parsed alike by every TOML parser, or not embedded: smol-toml alone reads these (1979-03-02,
    // Infinity, TOML 1.1); the guest's Rust toml crate refuses them.
    for (const [file, text, words] of [
      ['date-aa.toml', '[eventlog_config]\nsince = 1979-02-30\n', 'line 2, column 9'],
      ['float-cdh.toml', '[kbc]\nretry = -1e400\n', 'Infinity'],
      ['time-aa.toml', 'at = 07:32\n', 'TOML 1.1'],
    ] as const) {
      const part = await run(['initdata', 'build', '--data', `x.toml=${write(file, text)}`])
      expect(part.code, file).toBe(3)
      expect(part.stderr, file).toContain('ERR_INITDATA_PART_TOML')
      expect(part.stderr, file).toContain(words)
    }
  })

  it('refuses usage mistakes with exit 2', async () => {
    expect((await run(['initdata', 'build'])).code).toBe(2)
    expect((await run(['initdata', 'build', '--data', 'novalue'])).code).toBe(2)
    expect((await run(['initdata', 'build', '--aa', 'x', '--algorithm', 'md5'])).code).toBe(2)
    expect((await run(['initdata', 'build', '--bogus'])).code).toBe(2)
    expect((await run(['initdata', 'nope'])).code).toBe(2)
  })
})

describe('initguard initdata digest / qemu-args', () => {
  for (const [tee, length] of [
    ['snp', 32],
    ['tdx', 48],
    ['sgx', 64],
    ['cca', 64],
    ['se', 256],
  ] as const) {
    it(`--tee ${tee} prints the sha384 digest fitted to ${length} bytes`, async () => {
      const sha = execFileSync('sha384sum', [doc]).toString().slice(0, 96)
      const result = await run(['initdata', 'digest', doc, '--tee', tee])
      expect(result.code).toBe(0)
      const want = Buffer.alloc(length)
      Buffer.from(sha, 'hex').copy(want, 0, 0, Math.min(48, length))
      expect(result.stdout.trim()).toBe(want.toString('hex'))
      expect(result.stderr.includes('truncated')).toBe(tee === 'snp')
    })
  }

  it('prints base64 and JSON with warnings, and refuses sha384 on vtpm with exit 5', async () => {
    const b64 = await run(['initdata', 'digest', doc, '--tee', 'tdx', '--encoding', 'base64'])
    const hex = await run(['initdata', 'digest', doc, '--tee', 'tdx'])
    expect(Buffer.from(b64.stdout.trim(), 'base64').toString('hex')).toBe(hex.stdout.trim())
    const json = JSON.parse(
      (await run(['initdata', 'digest', doc, '--tee', 'snp', '--json'])).stdout,
    ) as { warnings: string[]; length: number }
    expect(json.length).toBe(32)
    expect(json.warnings[0]).toMatch(/truncated/)
    const vtpm = await run(['initdata', 'digest', doc, '--tee', 'vtpm'])
    expect(vtpm.code).toBe(5)
    expect(vtpm.stderr).toContain('ERR_INITDATA_VTPM_DIGEST_LENGTH')
  })

  it('reads the annotation and image forms with --from', async () => {
    const plain = (await run(['initdata', 'digest', doc])).stdout
    const annotation = write('annotation.txt', execSync(`gzip -c < '${doc}' | base64 -w0`))
    expect((await run(['initdata', 'digest', annotation, '--from', 'annotation'])).stdout).toBe(
      plain,
    )
    const image = join(dir, 'from.img')
    expect((await run(['initdata', 'image', doc, '-o', image])).code).toBe(0)
    expect((await run(['initdata', 'digest', image, '--from', 'image'])).stdout).toBe(plain)
    expect((await run(['initdata', 'digest', '-'], readFileSync(doc, 'utf8'))).stdout).toBe(plain)
  })

  it('prints QEMU properties', async () => {
    const snp = await run(['initdata', 'qemu-args', doc, '--tee', 'snp'])
    const value = (
      await run(['initdata', 'digest', doc, '--tee', 'snp', '--encoding', 'base64'])
    ).stdout.trim()
    expect(snp.stdout.trim()).toBe(`host-data=${value}`)
    expect((await run(['initdata', 'qemu-args', doc, '--tee', 'tdx'])).stdout).toMatch(
      /^mrconfigid=/,
    )
    expect((await run(['initdata', 'qemu-args', doc, '--tee', 'sgx'])).code).toBe(2)
  })
})

describe('initguard initdata encode / decode / image / read-image', () => {
  it('encodes an annotation that base64 -d | gunzip reads, and decodes gzip | base64 output', async () => {
    const encoded = await run(['initdata', 'encode', doc])
    expect(
      execSync('base64 -d | gunzip', { input: encoded.stdout.trim() }).equals(readFileSync(doc)),
    ).toBe(true)
    const shell = execSync(`gzip -c < '${doc}' | base64 -w0`).toString()
    const decoded = await run(['initdata', 'decode', shell])
    expect(decoded.stdoutBytes.equals(readFileSync(doc))).toBe(true)
    const fromFile = await run(['initdata', 'decode', '--from-file', '-'], shell)
    expect(fromFile.stdoutBytes.equals(readFileSync(doc))).toBe(true)
  })

  it('round-trips the block image', async () => {
    const image = join(dir, 'data.img')
    expect((await run(['initdata', 'image', doc, '-o', image])).code).toBe(0)
    expect(readFileSync(image).length % 512).toBe(0)
    const back = await run(['initdata', 'read-image', image])
    expect(back.stdoutBytes.equals(readFileSync(doc))).toBe(true)
    expect((await run(['initdata', 'image', doc])).code).toBe(2)
  })
})

describe('initguard initdata verify / explain', () => {
  it('exits 0 on a match and 5 on a mismatch', async () => {
    const expected = (await run(['initdata', 'digest', doc, '--tee', 'tdx'])).stdout.trim()
    const ok = await run(['initdata', 'verify', doc, '--tee', 'tdx', '--expected', expected])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('ok')
    const wrong = expected.slice(0, -1) + (expected.endsWith('0') ? '1' : '0')
    const bad = await run(['initdata', 'verify', doc, '--tee', 'tdx', '--expected', wrong])
    expect(bad.code).toBe(5)
    expect(bad.stderr).toContain('ERR_INITDATA_BINDING_MISMATCH')
    const b64 = Buffer.from(expected, 'hex').toString('base64')
    expect(
      (
        await run([
          'initdata',
          'verify',
          doc,
          '--tee',
          'tdx',
          '--expected',
          b64,
          '--encoding',
          'base64',
        ])
      ).code,
    ).toBe(0)
    const guessed = await run(['initdata', 'verify', doc, '--tee', 'tdx', '--expected', b64])
    expect(guessed.code).toBe(2)
    expect(guessed.stderr).toContain('--encoding base64')
  })

  it('explains CRLF line ends and a missing final newline', async () => {
    const expected = (await run(['initdata', 'digest', doc, '--tee', 'snp'])).stdout.trim()
    // A CRLF copy of the built document holds CRLF inside its multi-line strings, which Kata
    // releases read differently: refused as it is read, with where and how to fix it.
    const crlf = write('crlf.toml', readFileSync(doc, 'utf8').replace(/\n/g, '\r\n'))
    const refused = await run(['initdata', 'explain', crlf, '--tee', 'snp', '--expected', expected])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('ERR_INITDATA_TOML_CRLF')
    expect(refused.stderr).toMatch(/line \d+, column \d+/)
    expect(refused.stderr).toContain('LF line ends')
    // With its strings on one line, the CRLF copy parses, and explain finds the CRLF.
    const oneLine = 'version = "0.1.0"\nalgorithm = "sha384"\n[data]\n"aa.toml" = "x = 1\\n"\n'
    const lf = write('one-line.toml', oneLine)
    const lfValue = (await run(['initdata', 'digest', lf, '--tee', 'snp'])).stdout.trim()
    const crlfOneLine = write('one-line-crlf.toml', oneLine.replace(/\n/g, '\r\n'))
    const explained = await run([
      ...['initdata', 'explain', crlfOneLine, '--tee', 'snp', '--expected', lfValue],
    ])
    expect(explained.code).toBe(5)
    expect(explained.stdout).toMatch(/CRLF/)
    const noNewline = write('nonl.toml', readFileSync(doc, 'utf8').trimEnd())
    const json = await run([
      'initdata',
      'explain',
      noNewline,
      '--tee',
      'snp',
      '--expected',
      expected,
      '--json',
    ])
    expect((JSON.parse(json.stdout) as { findings: { cause: string }[] }).findings[0]?.cause).toBe(
      'final-newline-missing',
    )
    expect(
      (await run(['initdata', 'explain', doc, '--tee', 'snp', '--expected', expected])).code,
    ).toBe(0)
  })
})

describe('initguard initdata annotate', () => {
  it('annotates every pod template and leaves the rest alone', async () => {
    const out = join(dir, 'annotated.yaml')
    const result = await run([
      'initdata',
      'annotate',
      join(EXAMPLES, 'workload.yaml'),
      '--initdata',
      doc,
      '-o',
      out,
      '--json',
    ])
    expect(result.code, result.stdout).toBe(0)
    const annotated = readFileSync(out, 'utf8')
    const original = readFileSync(join(EXAMPLES, 'workload.yaml'), 'utf8')
    const added = annotated.split('\n').filter((line) => !original.split('\n').includes(line))
    expect(added.join('\n')).toContain('io.katacontainers.config.hypervisor.cc_init_data: H4sI')
    const value = /cc_init_data: (\S+)/.exec(annotated)?.[1] ?? ''
    expect(execSync('base64 -d | gunzip', { input: value }).equals(readFileSync(doc))).toBe(true)
  })

  it('rewrites in place, and refuses a manifest with no pod template', async () => {
    const manifest = write('inplace.yaml', readFileSync(join(EXAMPLES, 'workload.yaml')))
    expect(
      (await run(['initdata', 'annotate', manifest, '--initdata', doc, '--in-place'])).code,
    ).toBe(0)
    expect(readFileSync(manifest, 'utf8')).toContain('cc_init_data')
    const service = write('service.yaml', 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n')
    const refused = await run(['initdata', 'annotate', service, '--initdata', doc, '--in-place'])
    expect(refused.code).toBe(3)
    expect(readFileSync(service, 'utf8')).toBe(
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n',
    )
  })
})

describe('malformed input: a clear error and exit 3, never a stack trace', () => {
  const cases: [string, string | Uint8Array, string[], string][] = [
    ['bad TOML', 'version = "0.1.0\n', ['initdata', 'digest'], 'ERR_INITDATA_TOML'],
    [
      'wrong version',
      'version = "1.0"\nalgorithm = "sha256"\n[data]\n',
      ['initdata', 'digest'],
      'ERR_INITDATA_VERSION',
    ],
    [
      'wrong algorithm',
      'version = "0.1.0"\nalgorithm = "sha-256"\n[data]\n',
      ['initdata', 'digest'],
      'ERR_INITDATA_ALGORITHM',
    ],
    [
      'non-string data',
      'version = "0.1.0"\nalgorithm = "sha256"\n[data]\nx = 1\n',
      ['initdata', 'verify', '--tee', 'snp', '--expected', '00'],
      'ERR_INITDATA_DATA_VALUE',
    ],
    ['empty file', '', ['initdata', 'encode'], 'ERR_INITDATA_EMPTY'],
    [
      'bad base64',
      'H4sI!!!!',
      ['initdata', 'digest', '--from', 'annotation'],
      'ERR_BASE64_INVALID',
    ],
    [
      'truncated gzip',
      Buffer.from(execSync('gzip -c', { input: 'version = "0.1.0"\n' }))
        .subarray(0, 12)
        .toString('base64'),
      ['initdata', 'digest', '--from', 'annotation'],
      'ERR_GZIP_INVALID',
    ],
    ['wrong magic', Buffer.alloc(512, 1), ['initdata', 'read-image'], 'ERR_INITDATA_IMAGE_MAGIC'],
    [
      'oversize length field',
      Buffer.concat([
        Buffer.from('initdata'),
        Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]),
        Buffer.alloc(496),
      ]),
      ['initdata', 'read-image'],
      'ERR_INITDATA_IMAGE_LENGTH',
    ],
  ]
  for (const [label, content, [group, command, ...options], code] of cases) {
    it(`${label}: ${code}`, async () => {
      const file = write(`bad-${label.replace(/\W/g, '-')}`, content)
      const result = await run([group ?? '', command ?? '', file, ...options])
      expect(result.code).toBe(3)
      expect(result.stderr).toContain(`code: ${code}`)
      expect(result.stderr).not.toMatch(/\n\s+at /)
      const json = await run([group ?? '', command ?? '', file, ...options, '--json'])
      if (command !== 'read-image')
        expect((JSON.parse(json.stdout) as { error: { code: string } }).error.code).toBe(code)
    })
  }

  it('a missing file is exit 7, and a failed write leaves nothing behind', async () => {
    const missing = await run(['initdata', 'digest', join(dir, 'does-not-exist.toml')])
    expect(missing.code).toBe(7)
    expect(missing.stderr).toContain('no such file')
    const target = join(dir, 'no-such-dir', 'out.toml')
    const failed = await run(['initdata', 'build', '--aa', join(EXAMPLES, 'aa.toml'), '-o', target])
    expect(failed.code).toBe(7)
    expect(existsSync(join(dir, 'no-such-dir'))).toBe(false)
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })
})

describe('the initguard binary', () => {
  it('prints help for every command', async () => {
    const top = await run(['--help'])
    expect(top.code).toBe(0)
    for (const command of [
      'build',
      'digest',
      'encode',
      'decode',
      'image',
      'read-image',
      'qemu-args',
      'annotate',
      'verify',
      'explain',
    ]) {
      const help = await run(['initdata', command, '--help'])
      expect(help.code, command).toBe(0)
      expect(help.stdout).toContain(`Usage: initguard initdata ${command}`)
      // One space between the parts, also for a command that takes no FILE ("build [options]").
      expect(help.stdout.split('\n')[0], command).toMatch(/^Usage: initguard( \S+)+$/)
      expect(top.stdout).toContain(command)
    }
  })

  it('runs as a process with the documented exit codes', () => {
    const ok = spawnSync(process.execPath, [BIN, 'initdata', 'digest', doc, '--tee', 'tdx'])
    expect(ok.status).toBe(0)
    const bad = spawnSync(process.execPath, [BIN, 'initdata', 'digest', write('bad.toml', 'x = ')])
    expect(bad.status).toBe(3)
    expect(bad.stderr.toString()).toContain('ERR_INITDATA_TOML')
    expect(spawnSync(process.execPath, [BIN, 'initdata', 'digest']).status).toBe(2)
  })

  it('runs the demo', async () => {
    const demo = await run(['demo', '--out', scratch.make('initguard-demo-')])
    expect(demo.code, demo.stderr).toBe(0)
    expect(demo.stdout).toContain('CRLF')
    expect(demo.stdout).toContain('ERR_INITDATA_TOML_CRLF')
    expect(demo.stdout).toMatch(
      /✓ runs: {4}registry\.example\.internal\/team\/payments:v1\.4\.2, signed by the release key/,
    )
    expect(demo.stdout.match(/^ {2}✓ refused: /gm)).toHaveLength(3)
    expect(demo.stdout).toContain('ERR_AGENT_INITDATA_MISMATCH')
    expect(demo.stdout).toContain('ERR_KBS_NO_WORKLOAD')
    expect(demo.stdout).not.toContain('✗')
    expect(demo.stdout).toMatch(/Result: all \d+ outcomes as expected/)
  })
})

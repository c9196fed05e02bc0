/**
 * `initguard image check | pull` end to end against Debian's docker-registry: exit codes, the
 * decision report, a pull that happens only when allowed, and the policy taken from a verified
 * initdata document.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '@initguard/oci'
import {
  pushTestImage,
  simpleTestImage,
  writeOciLayout,
} from '../../oci/src/oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from '../../oci/src/registry-test-support.ts'
import { runCli } from './main.ts'

interface Result {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

async function run(args: string[], terminal = false): Promise<Result> {
  let stdout = ''
  let stderr = ''
  const code = await runCli(args, {
    stdout: { write: (c: string | Uint8Array) => (stdout += Buffer.from(c).toString()) },
    stderr: {
      write: (c: string | Uint8Array) => (stderr += Buffer.from(c).toString()),
      isTTY: terminal,
    },
    stdin: Readable.from([]),
  })
  return { code, stdout, stderr }
}

let registry: TestRegistry
let dir: string
let reference: string
let common: string[]

const write = (name: string, content: string): string => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

beforeAll(async () => {
  registry = await startRegistry()
  dir = mkdtempSync(join(tmpdir(), 'initguard-cli-image-'))
  reference = `${registry.host}/apps/hello:v1`
  const client = new RegistryClient({ insecureRegistries: [registry.host] })
  await pushTestImage(client, `${registry.host}/apps/hello`, 'v1', simpleTestImage('cli hello'))
  const registriesD = join(dir, 'registries.d')
  common = [
    '--insecure-registry',
    registry.host,
    '--registries-d',
    registriesD,
    '--authfile',
    write('auth.json', '{"auths":{}}'),
  ]
  mkdirSync(registriesD)
}, 60_000)

afterAll(async () => {
  await registry.stop()
  await rm(dir, { recursive: true, force: true })
})

const VECTORS = fileURLToPath(
  new URL('../../../testdata/vectors/image-signatures/', import.meta.url),
)
const COSIGN_PUB = join(VECTORS, 'cosign.pub')
const REKOR_PUB = join(VECTORS, 'rekor.pub')
const PKI_ROOTS = join(VECTORS, 'pki_root_crts.pem')

const allowApps = (host: string): string =>
  JSON.stringify({
    default: [{ type: 'reject' }],
    transports: { docker: { [`${host}/apps`]: [{ type: 'insecureAcceptAnything' }] } },
  })

describe('initguard image check', () => {
  it('exits 0 and names the scope when the policy accepts', async () => {
    const result = await run([
      'image',
      'check',
      reference,
      '--policy',
      write('allow.json', allowApps(registry.host)),
      ...common,
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain(`accepted by transports.docker["${registry.host}/apps"]`)
  })

  it('exits 5 with the failing requirement and why, in JSON', async () => {
    const policy = write(
      'signed.json',
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: {
          docker: {
            [`${registry.host}/apps/hello`]: [
              {
                type: 'sigstoreSigned',
                keyData: readFileSync(COSIGN_PUB).toString('base64'),
                signedIdentity: { type: 'matchRepository' },
              },
            ],
          },
        },
      }),
    )
    const result = await run(['image', 'check', reference, '--policy', policy, ...common, '--json'])
    expect(result.code).toBe(5)
    const report = JSON.parse(result.stdout) as {
      ok: boolean
      decision: { reason: string; scope: { field: string; tried: string[] } }
    }
    expect(report.ok).toBe(false)
    expect(report.decision.reason).toBe('A signature was required, but no signature exists')
    expect(report.decision.scope.field).toBe(`transports.docker["${registry.host}/apps/hello"]`)
    expect(report.decision.scope.tried).toEqual([reference])
  })

  it.each([
    ['no policy at all', ['image', 'check', 'quay.io/a/b:v1'], 2],
    [
      'both --policy and --initdata',
      ['image', 'check', 'quay.io/a/b:v1', '--policy', 'p.json', '--initdata', 'i.toml'],
      2,
    ],
    ['no reference', ['image', 'check', '--policy', 'p.json'], 2],
  ])('exits %s with a usage error', async (_what, args, code) => {
    const result = await run(args)
    expect(result.code).toBe(code)
    expect(result.stderr).toMatch(/code: ERR_USAGE/)
  })

  it("exits 7 or 3 when the policy's own key file is missing or not a key, not 5", async () => {
    const keyed = (keyPath: string): string =>
      write(
        `keyed-${String(Math.random()).slice(2, 8)}.json`,
        JSON.stringify({ default: [{ type: 'signedBy', keyType: 'GPGKeys', keyPath }] }),
      )
    const missing = await run([
      'image',
      'check',
      reference,
      '--policy',
      keyed(join(dir, 'no-such.gpg')),
      ...common,
    ])
    expect(missing.code).toBe(7)
    expect(missing.stdout).toMatch(/REFUSED: the keys of default\[0\] cannot be used/)
    const notKey = await run([
      'image',
      'check',
      reference,
      '--policy',
      keyed(write('not-a-key.gpg', 'not a key')),
      ...common,
    ])
    expect(notKey.code).toBe(3)
  })

  it.each([
    ['keyPath', (bad: string) => ({ keyPath: bad })],
    ['keyPaths', (bad: string) => ({ keyPaths: [COSIGN_PUB, bad] })],
    ['rekorPublicKeyPath', (bad: string) => ({ keyPath: COSIGN_PUB, rekorPublicKeyPath: bad })],
    [
      'fulcio.caPath',
      (bad: string) => ({
        fulcio: { caPath: bad, oidcIssuer: 'https://issuer', subjectEmail: 'a@b' },
        rekorPublicKeyPath: REKOR_PUB,
      }),
    ],
    ['pki.caRootsPath', (bad: string) => ({ pki: { caRootsPath: bad, subjectEmail: 'a@b' } })],
    [
      'pki.caIntermediatesPath',
      (bad: string) => ({
        pki: { caRootsPath: PKI_ROOTS, caIntermediatesPath: bad, subjectEmail: 'a@b' },
      }),
    ],
  ])(
    'a sigstoreSigned %s that is not a key or certificate exits 3, an unreadable one 7, like signedBy',
    async (_what, keys) => {
      const check = async (bad: string): Promise<Result> => {
        const policy = write(
          `sigstore-${String(Math.random()).slice(2, 8)}.json`,
          JSON.stringify({
            default: [
              { type: 'sigstoreSigned', ...keys(bad), signedIdentity: { type: 'matchRepository' } },
            ],
          }),
        )
        return run(['image', 'check', reference, '--policy', policy, ...common, '--json'])
      }
      const notKey = await check(write('not-a-key.pem', 'not a key'))
      expect(notKey.code, notKey.stdout).toBe(3)
      const report = JSON.parse(notKey.stdout) as {
        decision: { requirements: { code: string; keyError: string }[] }
      }
      expect(report.decision.requirements[0]).toMatchObject({ keyError: 'malformed' })
      expect(report.decision.requirements[0]?.code).toMatch(
        /^ERR_(SIGSTORE_KEY|REKOR_KEY|FULCIO_CA|PKI_CA)/,
      )
      expect((await check(join(dir, 'no-such.pem'))).code).toBe(7)
    },
  )

  it('takes a docker:// prefix as skopeo does, and refuses a vague --at', async () => {
    const policy = write('allow-docker.json', allowApps(registry.host))
    expect(
      (await run(['image', 'check', `docker://${reference}`, '--policy', policy, ...common])).code,
    ).toBe(0)
    const checkAt = async (at: string): Promise<number> =>
      (await run(['image', 'check', reference, '--policy', policy, ...common, '--at', at])).code
    for (const at of ['5', '2030-01-01 12:00', '2030-01-01T12:00'])
      expect(await checkAt(at), at).toBe(2)
    expect(await checkAt('2030-01-01')).toBe(0)
  })

  it('exits 3 on a malformed policy, naming the field', async () => {
    const result = await run([
      'image',
      'check',
      reference,
      '--policy',
      write('bad.json', '{"default":[]}'),
      ...common,
    ])
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(/ERR_IMAGE_POLICY_EMPTY_REQUIREMENTS/)
  })
})

describe('the default docker config (no --authfile)', () => {
  /** `image check` with DOCKER_CONFIG set to `config` and no --authfile. */
  async function checkWithDefaultConfig(config: string): Promise<Result> {
    const policy = write('allow-default-config.json', allowApps(registry.host))
    const previous = process.env['DOCKER_CONFIG']
    process.env['DOCKER_CONFIG'] = config
    try {
      return await run([
        'image',
        'check',
        reference,
        '--policy',
        policy,
        '--insecure-registry',
        registry.host,
        '--registries-d',
        join(dir, 'registries.d'),
      ])
    } finally {
      if (previous === undefined) delete process.env['DOCKER_CONFIG']
      else process.env['DOCKER_CONFIG'] = previous
    }
  }

  it('is optional: a config that does not exist means anonymous access', async () => {
    expect((await checkWithDefaultConfig(join(dir, 'no-such-docker-dir'))).code).toBe(0)
  })

  // Root reads any file whatever its mode, so EACCES is not made here; every error other than
  // ENOENT takes the same path.
  it.each([
    [
      'is a directory',
      (config: string) => {
        mkdirSync(join(config, 'config.json'))
      },
    ],
    [
      'is a symlink loop',
      (config: string) => {
        symlinkSync(join(config, 'config.json'), join(config, 'config.json'))
      },
    ],
  ])('that exists but %s is refused naming the file, never read as absent', async (_what, make) => {
    const config = mkdtempSync(join(dir, 'docker-config-'))
    make(config)
    const result = await checkWithDefaultConfig(config)
    expect(result.code, result.stdout + result.stderr).toBe(7)
    expect(result.stderr).toContain('code: ERR_FILE_READ')
    expect(result.stderr).toContain(
      `cannot read the default docker config ${JSON.stringify(join(config, 'config.json'))}`,
    )
    expect(result.stderr).toContain('--authfile')
  })

  it('DOCKER_CONFIG naming a file, not a directory, is refused (ENOTDIR)', async () => {
    const result = await checkWithDefaultConfig(write('docker-config-file', '{}'))
    expect(result.code, result.stdout + result.stderr).toBe(7)
    expect(result.stderr).toContain('code: ERR_FILE_READ')
  })
})

describe('a policy that rejects decides without contacting the registry', () => {
  /** A registry stand-in that counts the requests it receives (and answers none usefully). */
  async function countingServer(): Promise<{
    host: string
    count: () => number
    close: () => Promise<void>
  }> {
    let requests = 0
    const server = createServer((_request, response) => {
      requests++
      response.writeHead(500).end()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    return {
      host: `127.0.0.1:${port}`,
      count: () => requests,
      close: () =>
        new Promise<void>((resolve) => {
          server.close(() => {
            resolve()
          })
        }),
    }
  }

  it.each([
    [
      'default reject',
      (host: string) => ({
        default: [{ type: 'reject' }],
        transports: { docker: { [`${host}/other`]: [{ type: 'insecureAcceptAnything' }] } },
      }),
    ],
    [
      'a scope with insecureAcceptAnything and reject',
      (host: string) => ({
        default: [{ type: 'insecureAcceptAnything' }],
        transports: {
          docker: { [`${host}/apps`]: [{ type: 'insecureAcceptAnything' }, { type: 'reject' }] },
        },
      }),
    ],
    [
      'a scope with a signature requirement and reject',
      (host: string) => ({
        default: [{ type: 'insecureAcceptAnything' }],
        transports: {
          docker: {
            [`${host}/apps`]: [{ type: 'sigstoreSigned', keyPath: COSIGN_PUB }, { type: 'reject' }],
          },
        },
      }),
    ],
  ])('%s: check and pull exit 5 with no request made', async (_what, policyFor) => {
    const server = await countingServer()
    try {
      const image = `${server.host}/apps/hello:v1`
      const policy = write(
        `reject-${String(Math.random()).slice(2, 8)}.json`,
        JSON.stringify(policyFor(server.host)),
      )
      const options = [
        '--policy',
        policy,
        '--insecure-registry',
        server.host,
        '--registries-d',
        join(dir, 'registries.d'),
      ]
      const checked = await run(['image', 'check', image, ...options, '--json'])
      expect(checked.code, checked.stderr).toBe(5)
      const report = JSON.parse(checked.stdout) as {
        manifestDigest: string | null
        decision: { reason: string }
      }
      expect(report.decision.reason).toBe(`Running image docker://${image} is rejected by policy.`)
      expect(report.manifestDigest).toBeNull()
      const dest = join(dir, `rejected-${String(Math.random()).slice(2, 8)}`)
      const pulled = await run(['image', 'pull', image, dest, ...options])
      expect(pulled.code, pulled.stderr).toBe(5)
      expect(existsSync(dest)).toBe(false)
      expect(server.count()).toBe(0)
    } finally {
      await server.close()
    }
  })

  it('insecureAcceptAnything still reads the manifest (an image that is not there is not accepted)', async () => {
    const server = await countingServer()
    try {
      const policy = write(
        'accept-all.json',
        JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }),
      )
      const result = await run([
        'image',
        'check',
        `${server.host}/apps/hello:v1`,
        '--policy',
        policy,
        '--insecure-registry',
        server.host,
        '--registries-d',
        join(dir, 'registries.d'),
      ])
      expect(result.code).not.toBe(0)
      expect(server.count()).toBeGreaterThan(0)
    } finally {
      await server.close()
    }
  })
})

describe('initguard image check dir:', () => {
  it('checks a dir: image against transports.dir scopes, and refuses to pull one', async () => {
    const image = join(dir, 'dir-image')
    const { mkdirSync } = await import('node:fs')
    mkdirSync(image)
    writeFileSync(join(image, 'manifest.json'), '{"schemaVersion":2}')
    const policy = (rule: string): string =>
      write(
        `dir-${rule}.json`,
        JSON.stringify({
          default: [{ type: 'reject' }],
          transports: { dir: { [dir]: [{ type: rule }] } },
        }),
      )
    const accepted = await run([
      'image',
      'check',
      `dir:${image}`,
      '--policy',
      policy('insecureAcceptAnything'),
    ])
    expect(accepted.code, accepted.stderr).toBe(0)
    expect(accepted.stdout).toContain(`accepted by transports.dir[${JSON.stringify(dir)}]`)
    const refused = await run([
      'image',
      'check',
      `dir:${image}`,
      '--policy',
      policy('reject'),
      '--json',
    ])
    expect(refused.code).toBe(5)
    expect(
      (JSON.parse(refused.stdout) as { decision: { reason: string } }).decision.reason,
    ).toMatch(/rejected by policy/)
    expect(
      (await run(['image', 'pull', `dir:${image}`, join(dir, 'x'), '--policy', policy('reject')]))
        .code,
    ).toBe(2)
  })
})

describe('initguard image check oci:', () => {
  it('checks an OCI layout by directory, and says which names it holds when REF is wrong', async () => {
    const layout = join(dir, 'layout')
    await writeOciLayout(layout, 'v1', simpleTestImage('layout'))
    const policy = write(
      'oci.json',
      JSON.stringify({
        default: [{ type: 'reject' }],
        transports: { oci: { [layout]: [{ type: 'insecureAcceptAnything' }] } },
      }),
    )
    const accepted = await run(['image', 'check', `oci:${layout}:v1`, '--policy', policy])
    expect(accepted.code, accepted.stderr).toBe(0)
    expect(accepted.stdout).toContain(`accepted by transports.oci[${JSON.stringify(layout)}]`)
    const json = await run(['image', 'check', `oci:${layout}:v1`, '--policy', policy, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: true,
      reference: `oci:${layout}:v1`,
      manifestDigest: simpleTestImage('layout').manifestDigest,
    })
    const platform = await run([
      'image',
      'check',
      `oci:${layout}:v1`,
      '--policy',
      policy,
      '--platform',
      'linux/arm64',
    ])
    expect(platform.code).toBe(2)
    const missing = await run(['image', 'check', `oci:${layout}:v2`, '--policy', policy])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toMatch(/no manifest named "v2"[\s\S]*the names are: v1/)
  })
})

describe('initguard image pull', () => {
  const pull = (dest: string, policy: string, terminal = false): Promise<Result> =>
    run(['image', 'pull', reference, dest, '--policy', policy, ...common], terminal)

  it('pulls and unpacks an accepted image', async () => {
    const dest = join(dir, 'rootfs')
    const result = await pull(dest, write('allow2.json', allowApps(registry.host)))
    expect(result.code, result.stderr).toBe(0)
    expect(readFileSync(join(dest, 'hello.txt'), 'utf8')).toBe('cli hello\n')
    expect(result.stdout).toMatch(/pulled .* 1 layers, 1 files/)
  })

  it('shows download progress on a terminal, and none otherwise', async () => {
    const policy = write('allow3.json', allowApps(registry.host))
    const onTerminal = await pull(join(dir, 'tty'), policy, true)
    expect(onTerminal.code, onTerminal.stderr).toBe(0)
    expect(onTerminal.stderr).toMatch(/\r {2}layers: 1, \d+\.\d \/ \d+\.\d MiB\n$/)
    const piped = await pull(join(dir, 'piped'), policy)
    expect(piped.stderr).toBe('')
  })

  it('exits 5 and writes nothing when the policy refuses', async () => {
    const dest = join(dir, 'refused')
    const result = await pull(dest, write('deny.json', '{"default":[{"type":"reject"}]}'))
    expect(result.code).toBe(5)
    expect(result.stdout).toMatch(/nothing was pulled/)
    expect(existsSync(dest)).toBe(false)
  })
})

describe('the policy from a verified initdata document', () => {
  async function initdata(cdh: string): Promise<{ path: string; digest: string }> {
    const path = join(dir, `initdata-${String(Math.random()).slice(2, 8)}.toml`)
    const built = await run(['initdata', 'build', '--cdh', write('cdh.toml', cdh), '-o', path])
    expect(built.code, built.stderr).toBe(0)
    const digest = await run(['initdata', 'digest', path, '--tee', 'snp'])
    return { path, digest: digest.stdout.trim() }
  }
  const checkWithInitdata = (path: string, expected: string): Promise<Result> =>
    run([
      'image',
      'check',
      reference,
      '--initdata',
      path,
      '--tee',
      'snp',
      '--expected',
      expected,
      ...common,
    ])
  const inline = (policy: string): string =>
    `[kbc]\nname = "cc_kbc"\nurl = "http://kbs"\n\n[image]\nimage_security_policy = '${policy}'\n`

  it('uses [image] image_security_policy once the document matches the TEE value', async () => {
    const doc = await initdata(inline(allowApps(registry.host)))
    const result = await checkWithInitdata(doc.path, doc.digest)
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toMatch(/accepted/)
  })

  it('refuses a document that does not match the TEE value', async () => {
    const doc = await initdata(inline(allowApps(registry.host)))
    const result = await checkWithInitdata(doc.path, '00'.repeat(32))
    expect(result.code).toBe(5)
  })

  it('needs --tee and --expected', async () => {
    const doc = await initdata(inline(allowApps(registry.host)))
    expect((await run(['image', 'check', reference, '--initdata', doc.path, ...common])).code).toBe(
      2,
    )
  })

  it('refuses a kbs:/// policy URI until the guest agent exists', async () => {
    const doc = await initdata(
      '[image]\nimage_security_policy_uri = "kbs:///default/security-policy/test"\n',
    )
    const result = await checkWithInitdata(doc.path, doc.digest)
    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/ERR_CDH_POLICY_NEEDS_AGENT/)
  })

  it.each([
    [
      'image_security_policy_uri = "file:///etc/containers/policy.json"',
      'ERR_CDH_POLICY_AMBIGUOUS',
    ],
    [
      'sigstore_config = "default-docker:\\n  sigstore: file:///var/lib/sigs\\n"\nsigstore_config_uri = "/etc/containers/registries.d/default.yaml"',
      'ERR_CDH_SIGSTORE_CONFIG_AMBIGUOUS',
    ],
  ])(
    'refuses an inline value given together with its URI (image-rs would drop the inline one): %s',
    async (line, code) => {
      const doc = await initdata(
        `${inline('{"default":[{"type":"reject"}],"transports":{}}')}${line}\n`,
      )
      const result = await checkWithInitdata(doc.path, doc.digest)
      expect(result.code).toBe(5)
      expect(result.stderr).toContain(code)
    },
  )

  it('refuses a document with no image policy (image-rs would allow everything)', async () => {
    const doc = await initdata('[kbc]\nname = "cc_kbc"\n')
    const result = await checkWithInitdata(doc.path, doc.digest)
    expect(result.code).toBe(5)
    expect(result.stderr).toMatch(/ERR_IMAGE_POLICY_NONE/)
  })
})

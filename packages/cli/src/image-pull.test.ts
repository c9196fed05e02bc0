/**
 * `initguard image pull | check` end to end against Debian's docker-registry: a policy that rejects
 * decides without contacting the registry, `dir:` and `oci:` images, a pull that happens only when
 * allowed, and the policy taken from a verified initdata document. `image check`'s exit codes,
 * report and docker config are in image.test.ts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it } from 'vitest'
import { simpleTestImage, writeOciLayout } from '../../oci/src/oci-image-test-support.ts'
import {
  COSIGN_PUB,
  allowApps,
  common,
  dir,
  reference,
  registry,
  run,
  type Result,
  useImageRegistry,
  write,
} from './image-test-support.ts'

useImageRegistry()

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

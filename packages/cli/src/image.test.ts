/**
 * `initguard image check` end to end against Debian's docker-registry: exit codes, the decision
 * report, the policy's own key files, and the default docker config. Pulls, `dir:` and `oci:`
 * images, policies that reject before any request, and the policy from a verified initdata
 * document are in image-pull.test.ts.
 */
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  COSIGN_PUB,
  PKI_ROOTS,
  REKOR_PUB,
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

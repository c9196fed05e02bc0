import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { stringify } from 'yaml'
import { describe, expect, it, onTestFinished } from 'vitest'
import { isInitguardError, type InitguardError } from '@initguard/core'
import { parseDockerImageReference } from '@initguard/image-policy'
import {
  loadRegistriesD,
  lookasideFor,
  lookasideSignatureURL,
  parseRegistriesD,
  redactUrl,
  type RegistriesDConfig,
} from './registries-d.ts'

const DIGEST = `sha256:${'0123456789abcdef'.repeat(4)}`
const MAPPED = `sha256=${'0123456789abcdef'.repeat(4)}`

async function thrown(run: () => unknown): Promise<InitguardError> {
  try {
    await run()
  } catch (error) {
    if (isInitguardError(error)) return error
    throw new Error(`expected an InitguardError, got ${String(error)}`, { cause: error })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

const one = (text: string, name = 'a.yaml'): RegistriesDConfig => parseRegistriesD([{ name, text }])
const choose = (config: RegistriesDConfig, image: string) =>
  lookasideFor(config, parseDockerImageReference(image))

describe('lookasideFor', () => {
  // The scope table of c/image's TestRegistryConfigurationSignatureTopLevel, with URLs as values.
  const scopes = [
    'localhost',
    'localhost:5000',
    'example.com',
    'example.com/ns1',
    'example.com/ns1/ns2',
    'example.com/ns1/ns2/repo',
    'example.com/ns1/ns2/repo:notlatest',
  ]
  const config = one(
    stringify({
      'default-docker': { lookaside: 'file:///default', 'lookaside-staging': 'file:///default-w' },
      docker: Object.fromEntries(scopes.map((s) => [s, { lookaside: `https://sigs.test/${s}` }])),
    }),
  )
  it.each([
    ['example.com/ns1/ns2/repo:notlatest', 'example.com/ns1/ns2/repo:notlatest'],
    ['example.com/ns1/ns2/repo:unmatched', 'example.com/ns1/ns2/repo'],
    ['example.com/ns1/ns2/notrepo:notlatest', 'example.com/ns1/ns2'],
    ['example.com/ns1/notns2/repo:notlatest', 'example.com/ns1'],
    ['example.com/notns1/ns2/repo:notlatest', 'example.com'],
    ['unknown.example.com/busybox', 'default-docker'],
    ['localhost:5000/busybox', 'localhost:5000'],
    ['localhost/busybox', 'localhost'],
    // A host:port scope does not fall back to the bare host.
    ['localhost:9999/busybox', 'default-docker'],
  ])('%s uses %s', (image, scope) => {
    const choice = choose(config, image)
    expect(choice.scope).toBe(scope)
    expect(choice.lookaside?.href).toBe(
      scope === 'default-docker' ? 'file:///default' : new URL(`https://sigs.test/${scope}`).href,
    )
  })

  it('returns nothing when no scope and no default-docker match', () => {
    const choice = choose(
      one('docker:\n  unmatched:\n    lookaside: file:///a\n'),
      'thisisnotmatched',
    )
    expect(choice).toEqual({ scope: '', useSigstoreAttachments: false, attachmentsScope: '' })
  })

  it('moves on past a matching scope without a lookaside, as c/image does', () => {
    const config = one(`
docker:
  quay.io/org/app:
    use-sigstore-attachments: true
  quay.io/org:
    lookaside-staging: file:///staging
  quay.io:
    lookaside: https://sigs.quay.test/base
`)
    const choice = choose(config, 'quay.io/org/app:1')
    expect(choice.scope).toBe('quay.io')
    expect(choice.useSigstoreAttachments).toBe(true)
    expect(choice.attachmentsScope).toBe('quay.io/org/app')
    expect(choice.repositoryBase?.href).toBe('https://sigs.quay.test/base/org/app')
  })

  it('matches *. wildcard scopes after the host, since c/image shares the policy.json namespaces', () => {
    const config = one('docker:\n  "*.example.com":\n    lookaside: file:///wild\n')
    expect(choose(config, 'a.b.example.com/x/y:1').scope).toBe('*.example.com')
    expect(choose(config, 'example.com/x:1').scope).toBe('')
  })

  it('accepts the old names sigstore and sigstore-staging, and prefers the new ones', () => {
    const old = one('default-docker:\n  sigstore: file:///old\n  sigstore-staging: file:///w\n')
    expect(old.defaultDocker?.lookaside?.href).toBe('file:///old')
    expect(old.defaultDocker?.lookasideStaging).toBe('file:///w')
    const both = one('default-docker:\n  sigstore: file:///old\n  lookaside: file:///new\n')
    expect(both.defaultDocker?.lookaside?.href).toBe('file:///new')
  })

  it('reads use-sigstore-attachments, including YAML 1.1 yes/no as yaml.v3 does for bools', () => {
    expect(
      choose(one('default-docker:\n  use-sigstore-attachments: yes\n'), 'busybox')
        .useSigstoreAttachments,
    ).toBe(true)
    const off = one(
      'default-docker:\n  use-sigstore-attachments: true\ndocker:\n  docker.io:\n    use-sigstore-attachments: off\n',
    )
    expect(choose(off, 'busybox')).toMatchObject({
      useSigstoreAttachments: false,
      attachmentsScope: 'docker.io',
    })
  })

  it('builds the repository directory without the host, keeping an empty URL path empty', () => {
    const config = one(`
docker:
  docker.io:
    lookaside: https://sigs.test
  quay.io:
    lookaside: https://sigs.test/?token=1
  ghcr.io:
    lookaside: file:///var/lib/sigs/
`)
    expect(choose(config, 'busybox').repositoryBase?.href).toBe('https://sigs.test/library/busybox')
    expect(choose(config, 'quay.io/a/b:1').repositoryBase?.href).toBe(
      'https://sigs.test//a/b?token=1',
    )
    expect(choose(config, 'ghcr.io/a/b:1').repositoryBase?.href).toBe('file:///var/lib/sigs//a/b')
  })
})

describe('lookasideSignatureURL', () => {
  // c/image TestLookasideStorageURL
  it.each([
    ['file:///tmp', 1, `file:///tmp@${MAPPED}/signature-1`],
    ['file:///tmp', 2, `file:///tmp@${MAPPED}/signature-2`],
    ['https://localhost:5555/root', 1, `https://localhost:5555/root@${MAPPED}/signature-1`],
    ['http://localhost:5555/root', 2, `http://localhost:5555/root@${MAPPED}/signature-2`],
    ['https://h/root?x=1', 1, `https://h/root@${MAPPED}/signature-1?x=1`],
  ])('%s #%d', (base, n, expected) => {
    expect(lookasideSignatureURL(new URL(base), DIGEST, n).href).toBe(expected)
  })

  it('refuses a bad digest and a bad index', async () => {
    const base = new URL('file:///tmp')
    for (const digest of [
      'sha256:../hello',
      'sha256',
      `md5:${'0'.repeat(32)}`,
      DIGEST.toUpperCase(),
    ]) {
      expect((await thrown(() => lookasideSignatureURL(base, digest, 1))).code).toBe(
        'ERR_LOOKASIDE_DIGEST',
      )
    }
    expect((await thrown(() => lookasideSignatureURL(base, DIGEST, 0))).code).toBe(
      'ERR_LOOKASIDE_INDEX',
    )
  })
})

describe('parseRegistriesD', () => {
  it('parses the man page example and merges files', () => {
    const config = parseRegistriesD([
      {
        name: 'b.yaml',
        text: `docker:
    registry.example.com:
        lookaside: https://registry-lookaside.example.com
    registry.example.com/mydepartment:
        lookaside: https://lookaside.mydepartment.example.com
        lookaside-staging: file:///mnt/mydepartment/lookaside-staging
    registry.example.com/mydepartment/myproject:mybranch:
        lookaside: http://localhost:4242/lookaside
        lookaside-staging: file:///home/useraccount/webroot/lookaside
`,
      },
      {
        name: 'a.yaml',
        text: 'default-docker:\n    lookaside-staging: file:///mnt/company/common-lookaside-staging\n',
      },
      { name: 'c.yaml', text: '# only a comment\n' },
      { name: 'd.yaml', text: '' },
    ])
    expect([...config.docker.keys()]).toHaveLength(3)
    expect(config.docker.get('registry.example.com/mydepartment')?.file).toBe('b.yaml')
    expect(config.defaultDocker).toEqual({
      file: 'a.yaml',
      lookasideStaging: 'file:///mnt/company/common-lookaside-staging',
    })
    const choice = choose(config, 'registry.example.com/mydepartment/myproject:mybranch')
    expect(choice.lookaside?.href).toBe('http://localhost:4242/lookaside')
  })

  it('treats YAML nulls as c/image does', () => {
    const config = one('default-docker:\ndocker:\n  quay.io:\n')
    expect(config.defaultDocker).toBeUndefined()
    expect(config.docker.get('quay.io')).toEqual({ file: 'a.yaml' })
  })

  it.each([
    [
      [
        ['0.yaml', 'default-docker:\n lookaside: file:///a\n'],
        ['1.yaml', 'default-docker:\n lookaside: file:///b\n'],
      ],
      'ERR_REGISTRIES_D_DUPLICATE_DEFAULT',
    ],
    [
      [
        ['0.yaml', 'docker:\n q.io:\n  lookaside: file:///a\n'],
        ['1.yaml', 'docker:\n q.io: {}\n'],
      ],
      'ERR_REGISTRIES_D_DUPLICATE_SCOPE',
    ],
  ])('refuses a section defined in two files, naming both', async (files, code) => {
    const error = await thrown(() =>
      parseRegistriesD(files.map(([name, text]) => ({ name: name ?? '', text: text ?? '' }))),
    )
    expect(error.code).toBe(code)
    expect(error.message).toContain('0.yaml')
    expect(error.message).toContain('1.yaml')
  })

  it.each([
    ['}', 'ERR_REGISTRIES_D_YAML'],
    ['docker:\n  q.io: {}\n  q.io: {}\n', 'ERR_REGISTRIES_D_YAML'],
    ['a: 1\n---\nb: 2\n', 'ERR_REGISTRIES_D_YAML'],
    ['- docker\n', 'ERR_REGISTRIES_D_TYPE'],
    ['docker: [1]\n', 'ERR_REGISTRIES_D_TYPE'],
    ['docker:\n  q.io: file:///x\n', 'ERR_REGISTRIES_D_TYPE'],
    ['docker:\n  q.io:\n    lookaside: 5\n', 'ERR_REGISTRIES_D_TYPE'],
    ['default-docker:\n  use-sigstore-attachments: maybe\n', 'ERR_REGISTRIES_D_TYPE'],
    ['dockr:\n  q.io: {}\n', 'ERR_REGISTRIES_D_UNKNOWN_KEY'],
    ['__proto__:\n  q.io: {}\n', 'ERR_REGISTRIES_D_UNKNOWN_KEY'],
    ['docker:\n  q.io:\n    lookasid: file:///x\n', 'ERR_REGISTRIES_D_UNKNOWN_KEY'],
    ['default-docker:\n  lookaside: /var/lib/sigs\n', 'ERR_REGISTRIES_D_LOOKASIDE_URL'],
    ['default-docker:\n  lookaside: ftp://h/x\n', 'ERR_REGISTRIES_D_LOOKASIDE_URL'],
    ['default-docker:\n  sigstore: file://host/x\n', 'ERR_REGISTRIES_D_LOOKASIDE_URL'],
    ['docker: &a\n  q.io: *a\n', 'ERR_REGISTRIES_D_UNKNOWN_KEY'],
  ])('refuses %j with %s', async (text, code) => {
    const error = await thrown(() => one(text))
    expect(error.code).toBe(code)
    expect(error.hint).toBeTruthy()
    expect(error.details['file']).toBe('a.yaml')
  })

  it('refuses an alias bomb without expanding it', async () => {
    const lines = ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]']
    for (let i = 1; i < 12; i++)
      lines.push(
        `a${i}: &a${i} [${Array(10)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      )
    expect((await thrown(() => one(`${lines.join('\n')}\n`))).code).toBe('ERR_REGISTRIES_D_YAML')
  })

  it('throws only Initguard errors for any text (property)', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (text) => {
        try {
          one(text)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })

  it('throws only Initguard errors for any YAML-shaped configuration (property)', () => {
    const scalar = fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.boolean(),
      fc.integer(),
      fc.constant(null),
      fc.constantFrom('file:///x', 'https://h/p', 'yes'),
    )
    const section = fc.dictionary(
      fc.constantFrom(
        'lookaside',
        'lookaside-staging',
        'sigstore',
        'sigstore-staging',
        'use-sigstore-attachments',
        'other',
      ),
      scalar,
    )
    const file = fc.record(
      {
        docker: fc.oneof(
          fc.dictionary(fc.string({ maxLength: 12 }), fc.oneof(section, scalar)),
          scalar,
        ),
        'default-docker': fc.oneof(section, scalar),
      },
      { requiredKeys: [] },
    )
    fc.assert(
      fc.property(fc.array(file, { maxLength: 3 }), (files) => {
        try {
          const config = parseRegistriesD(
            files.map((f, i) => ({ name: `${i}.yaml`, text: stringify(f) })),
          )
          const choice = choose(config, 'quay.io/org/app:1')
          if (choice.repositoryBase !== undefined)
            lookasideSignatureURL(choice.repositoryBase, DIGEST, 1)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
    )
  })
})

/** A scratch directory, removed when the test ends. */
function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-registries-d-'))
  onTestFinished(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  return dir
}

describe('loadRegistriesD', () => {
  it('reads only *.yaml files and merges them', async () => {
    const dir = scratchDir()
    writeFileSync(join(dir, '10-quay.yaml'), 'docker:\n  quay.io:\n    lookaside: file:///sigs\n')
    writeFileSync(join(dir, 'default.yaml'), 'default-docker:\n  lookaside: https://sigs.test\n')
    writeFileSync(join(dir, 'ignored.yml'), 'not: [valid')
    writeFileSync(join(dir, 'README'), 'not yaml: [')
    const config = await loadRegistriesD(dir)
    expect(config.docker.get('quay.io')?.file).toBe(join(dir, '10-quay.yaml'))
    expect(config.defaultDocker?.lookaside?.href).toBe('https://sigs.test/')
  })

  it('reports a missing directory unless told to allow it', async () => {
    const missing = join(tmpdir(), 'initguard-no-such-registries-d')
    const error = await thrown(() => loadRegistriesD(missing))
    expect(error.code).toBe('ERR_REGISTRIES_D_READ')
    // The option as the CLI spells it (it once said --registries.d, which does not exist).
    expect(error.hint).toContain('--registries-d')
    expect(await loadRegistriesD(missing, { allowMissing: true })).toEqual({ docker: new Map() })
  })

  it('refuses a directory named *.yaml and an oversized file', async () => {
    const dir = scratchDir()
    mkdirSync(join(dir, 'sub.yaml'))
    expect((await thrown(() => loadRegistriesD(dir))).code).toBe('ERR_FILE_READ')
    const big = scratchDir()
    writeFileSync(join(big, 'big.yaml'), `# ${'x'.repeat(1024 * 1024)}\n`)
    expect((await thrown(() => loadRegistriesD(big))).code).toBe('ERR_FILE_TOO_LARGE')
  })
})

describe('redactUrl', () => {
  it('hides a password and keeps everything else', () => {
    expect(redactUrl(new URL('https://u:secret@h/p'))).toBe('https://u:xxxxx@h/p')
    expect(redactUrl(new URL('https://h/p'))).toBe('https://h/p')
  })
})

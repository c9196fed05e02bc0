/**
 * `pullImage` against Debian's docker-registry: the policy decides first, layers unpack in order
 * with whiteouts, every hostile or inconsistent image leaves no DEST and nothing outside it.
 */
import { createHash } from 'node:crypto'
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { parseImagePolicy } from '@initguard/image-policy'
import { ImagePolicyRejectedError, parseDiffIds, pullImage } from './image-pull.ts'
import { buildTestImage, pushTestImage, type TestImage } from './oci-image-test-support.ts'
import { RegistryClient } from './registry-client.ts'
import { startRegistry, type TestRegistry } from './registry-test-support.ts'

let registry: TestRegistry
let client: RegistryClient
let work: string
const acceptAll = parseImagePolicy('{"default":[{"type":"insecureAcceptAnything"}]}')
const rejectAll = parseImagePolicy('{"default":[{"type":"reject"}]}')

const base = buildTestImage([
  {
    entries: [
      { name: 'etc/', type: '5', mode: 0o755 },
      { name: 'etc/os-release', data: 'ID=test\n' },
      { name: 'etc/gone.conf', data: 'removed by layer 2\n' },
      { name: 'var/cache/', type: '5', mode: 0o755 },
      { name: 'var/cache/old.bin', data: 'old\n' },
      { name: 'usr/', type: '5', mode: 0o755 },
      { name: 'usr/lib/', type: '5', mode: 0o755 },
      { name: 'lib', type: '2', linkName: 'usr/lib' },
    ],
  },
  {
    entries: [
      { name: 'etc/.wh.gone.conf' },
      { name: 'var/cache/.wh..wh..opq' },
      { name: 'var/cache/new.bin', data: 'new\n' },
      { name: 'lib/libtest.so', data: 'through the merged-usr link\n' },
      { name: 'bin/', type: '5', mode: 0o755 },
      { name: 'bin/tool', data: '#!/bin/sh\n', mode: 0o755 },
    ],
    compress: false,
  },
])

async function tree(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = []
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    const path = prefix === '' ? name : `${prefix}/${name}`
    const stats = await lstat(join(dir, path))
    if (stats.isDirectory()) out.push(`${path}/`, ...(await tree(dir, path)))
    else if (stats.isSymbolicLink()) out.push(`${path} -> link`)
    else out.push(`${path} = ${(await readFile(join(dir, path), 'utf8')).trim()}`)
  }
  return out
}

const pullOptions = { insecureRegistries: [] as string[], policy: acceptAll }

beforeAll(async () => {
  registry = await startRegistry()
  pullOptions.insecureRegistries = [registry.host]
  client = new RegistryClient({ insecureRegistries: [registry.host] })
  work = await mkdtemp(join(tmpdir(), 'initguard-pull-'))
  await pushTestImage(client, `${registry.host}/test/base`, 'v1', base)
}, 60_000)

afterAll(async () => {
  await registry.stop()
  await rm(work, { recursive: true, force: true })
})

describe('pullImage', () => {
  it('reproduces the tree of a multi-layer image with whiteouts and an opaque directory', async () => {
    const dest = join(work, 'rootfs')
    const progress: number[] = []
    const pulled = await pullImage(`${registry.host}/test/base:v1`, dest, {
      ...pullOptions,
      concurrency: 2,
      onProgress: (p) => progress.push(p.received),
    })
    expect(pulled.layers).toBe(2)
    expect(pulled.checked.decision.accepted).toBe(true)
    expect(progress.length).toBeGreaterThan(0)
    expect(await tree(dest)).toEqual([
      'bin/',
      'bin/tool = #!/bin/sh',
      'etc/',
      'etc/os-release = ID=test',
      'lib -> link',
      'usr/',
      'usr/lib/',
      'usr/lib/libtest.so = through the merged-usr link',
      'var/',
      'var/cache/',
      'var/cache/new.bin = new',
    ])
    expect(await readdir(work)).toEqual(['rootfs'])
  })

  it('fetches nothing and creates nothing when the policy refuses', async () => {
    const dest = join(work, 'refused')
    const error = await pullImage(`${registry.host}/test/base:v1`, dest, {
      ...pullOptions,
      policy: rejectAll,
    }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ImagePolicyRejectedError)
    expect((error as ImagePolicyRejectedError).decision.reason).toMatch(/is rejected by policy/)
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/)
  })

  it('refuses a DEST that is not empty and leaves it alone', async () => {
    const dest = join(work, 'busy')
    await mkdir(dest)
    await writeFile(join(dest, 'keep'), 'mine')
    expect(await rejectedCode(pullImage(`${registry.host}/test/base:v1`, dest, pullOptions))).toBe(
      'ERR_PULL_DEST_NOT_EMPTY',
    )
    expect(await readdir(dest)).toEqual(['keep'])
  })

  it('refuses a DEST that is a symbolic link, or whose parent is missing, before fetching anything', async () => {
    const real = join(work, 'real-empty')
    await mkdir(real)
    const link = join(work, 'link-to-empty')
    await symlink(real, link)
    expect(await rejectedCode(pullImage(`${registry.host}/test/base:v1`, link, pullOptions))).toBe(
      'ERR_PULL_DEST_SYMLINK',
    )
    expect(
      await rejectedCode(
        pullImage(`${registry.host}/test/base:v1`, join(work, 'no', 'parent'), pullOptions),
      ),
    ).toBe('ERR_PULL_DEST_PARENT')
    await rm(link)
    await rm(real, { recursive: true })
  })

  /**
   * A client whose layer downloads wait for `gate`: its pull has checked DEST, and is held before
   * it writes anything. `reached` resolves when it is held.
   */
  class GatedClient extends RegistryClient {
    readonly #gate: Promise<void>
    readonly #reached: () => void

    constructor(gate: Promise<void>, reached: () => void) {
      super({ insecureRegistries: [registry.host] })
      this.#gate = gate
      this.#reached = reached
    }

    override async pullBlobs(
      ...args: Parameters<RegistryClient['pullBlobs']>
    ): ReturnType<RegistryClient['pullBlobs']> {
      this.#reached()
      await this.#gate
      return super.pullBlobs(...args)
    }
  }

  it.each([
    ['an empty directory', true],
    ['absent', false],
  ])(
    'two pulls into the same DEST (%s): the first to finish wins, the other is ERR_PULL_DEST_NOT_EMPTY, nothing mixed',
    async (_name, exists) => {
      const dest = join(work, `raced-${exists ? 'empty' : 'absent'}`)
      if (exists) await mkdir(dest)
      let release = (): void => undefined
      const gate = new Promise<void>((resolve) => (release = resolve))
      let held = (): void => undefined
      const reached = new Promise<void>((resolve) => (held = resolve))
      const reference = `${registry.host}/test/base:v1`
      // The loser checks DEST (empty or absent) and waits; the winner pulls all the way meanwhile.
      const loser = rejected(
        pullImage(reference, dest, { ...pullOptions, client: new GatedClient(gate, held) }),
      )
      await reached
      await pullImage(reference, dest, pullOptions)
      release()
      const error = await loser
      expect([error.code, error.category]).toEqual(['ERR_PULL_DEST_NOT_EMPTY', 'usage'])
      expect(error.message).toContain('another pull into the same DEST')
      expect(error.details).toEqual({ path: dest })
      // The winner's tree alone, and no staging directory left behind.
      expect(await tree(dest)).toContain('usr/lib/libtest.so = through the merged-usr link')
      expect((await tree(dest)).length).toBe(11)
      expect((await readdir(work)).filter((n) => n.includes('partial'))).toEqual([])
    },
  )

  it('stops when cancelled and leaves nothing behind', async () => {
    const dest = join(work, 'cancelled')
    const controller = new AbortController()
    controller.abort()
    const code = await rejectedCode(
      pullImage(`${registry.host}/test/base:v1`, dest, {
        ...pullOptions,
        signal: controller.signal,
      }),
    )
    expect(['ERR_PULL_CANCELLED', 'ERR_REGISTRY_CANCELLED']).toContain(code)
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/)
    expect((await readdir(work)).filter((n) => n.includes('partial'))).toEqual([])
  })

  it('stops at the total unpacked size and leaves nothing behind', async () => {
    const dest = join(work, 'budget')
    const code = await rejectedCode(
      pullImage(`${registry.host}/test/base:v1`, dest, {
        ...pullOptions,
        maxTotalUnpackedSize: 4096,
      }),
    )
    expect(code).toBe('ERR_LAYER_TOO_LARGE')
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/)
    expect((await readdir(work)).filter((n) => n.includes('partial'))).toEqual([])
  })

  async function pushAndPull(name: string, image: TestImage): Promise<string> {
    await pushTestImage(client, `${registry.host}/test/${name}`, 'v1', image)
    const dest = join(work, name)
    const code = await rejectedCode(
      pullImage(`${registry.host}/test/${name}:v1`, dest, pullOptions),
    )
    await expect(lstat(dest)).rejects.toThrow(/ENOENT/)
    expect((await readdir(work)).filter((n) => n.includes('partial'))).toEqual([])
    return code
  }

  it.each([
    ['an absolute path', [{ name: '/etc/passwd', data: 'x' }]],
    ['a .. path', [{ name: '../escape', data: 'x' }]],
    ['a hardlink outside', [{ name: 'h', type: '1', linkName: '../../etc/passwd' }]],
  ])('refuses a layer with %s: no DEST, nothing outside', async (_name, entries) => {
    const name = `hostile-${String(Math.random()).slice(2, 8)}`
    expect(await pushAndPull(name, buildTestImage([{ entries }]))).toMatch(/^ERR_LAYER_/)
    await expect(lstat(join(work, 'escape'))).rejects.toThrow(/ENOENT/)
  })

  it('keeps writes through an absolute symlink inside DEST (chroot semantics)', async () => {
    const marker = `initguard-escape-${String(Math.random()).slice(2, 10)}`
    const image = buildTestImage([
      {
        entries: [
          { name: 'out', type: '2', linkName: tmpdir() },
          { name: `out/${marker}`, data: 'x' },
        ],
      },
    ])
    await pushTestImage(client, `${registry.host}/test/symlink`, 'v1', image)
    const dest = join(work, 'symlink')
    await pullImage(`${registry.host}/test/symlink:v1`, dest, pullOptions)
    await expect(lstat(join(tmpdir(), marker))).rejects.toThrow(/ENOENT/)
    expect(await readFile(join(dest, tmpdir(), marker), 'utf8')).toBe('x')
  })

  /** `image` with `config` as its config blob (the manifest's descriptor rewritten to match). */
  const withConfig = (image: TestImage, config: Uint8Array): TestImage => {
    const manifest = JSON.parse(new TextDecoder().decode(image.manifest)) as {
      config: { digest: string; size: number }
    }
    manifest.config = {
      ...manifest.config,
      digest: `sha256:${createHash('sha256').update(config).digest('hex')}`,
      size: config.length,
    }
    const bytes = new TextEncoder().encode(JSON.stringify(manifest))
    return { ...image, config, manifest: bytes, manifestDigest: '' }
  }

  it('refuses a layer whose content is not what the config lists', async () => {
    const honest = buildTestImage([{ entries: [{ name: 'a', data: 'a' }] }])
    const other = buildTestImage([{ entries: [{ name: 'b', data: 'b' }] }])
    // The manifest and layer of one image with the config (diff_ids) of another.
    expect(await pushAndPull('mixed', withConfig(honest, other.config))).toBe('ERR_LAYER_DIFF_ID')
  })

  it('refuses a config that gives rootfs twice (runtimes disagree on which copy counts)', async () => {
    const honest = buildTestImage([{ entries: [{ name: 'a', data: 'a' }] }])
    const text = new TextDecoder().decode(honest.config)
    const zero = `sha256:${'0'.repeat(64)}`
    const config = new TextEncoder().encode(
      `${text.slice(0, -1)},"rootfs":{"type":"layers","diff_ids":["${zero}"]}}`,
    )
    expect(await pushAndPull('twice', withConfig(honest, config))).toBe('ERR_IMAGE_CONFIG')
  })

  it('refuses a diff_id that is not a sha256 digest before any layer is unpacked', async () => {
    const honest = buildTestImage([{ entries: [{ name: 'a', data: 'a' }] }])
    const parsed = JSON.parse(new TextDecoder().decode(honest.config)) as {
      rootfs: { diff_ids: string[] }
    }
    // The right digest in upper case: no layer can ever match it, so it is the config's fault.
    parsed.rootfs.diff_ids = parsed.rootfs.diff_ids.map((id) => id.toUpperCase())
    const config = new TextEncoder().encode(JSON.stringify(parsed))
    expect(await pushAndPull('upper', withConfig(honest, config))).toBe('ERR_IMAGE_CONFIG')
  })
})

describe('parseDiffIds', () => {
  const config = (diffIds: unknown): Uint8Array =>
    new TextEncoder().encode(JSON.stringify({ rootfs: { type: 'layers', diff_ids: diffIds } }))
  const digest = `sha256:${'ab'.repeat(32)}`

  it('reads sha256 digests, one per layer', () => {
    expect(parseDiffIds(config([digest, digest]), 2)).toEqual([digest, digest])
  })

  it('refuses rootfs or diff_ids spelt in another case, which Go would read instead', () => {
    const other = `sha256:${'cd'.repeat(32)}`
    const text = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
    const rootfs = { type: 'layers', diff_ids: [digest] }
    for (const value of [
      { rootfs, RootFS: { type: 'layers', diff_ids: [other] } },
      { rootfs: { ...rootfs, Diff_IDs: [other] } },
      { rootfs: { ...rootfs, TYPE: 'layers' } },
    ])
      expect(() => parseDiffIds(text(value), 1), JSON.stringify(value)).toThrow(
        expect.objectContaining({ code: 'ERR_IMAGE_CONFIG' }),
      )
  })

  it('refuses a config that starts with a byte order mark, as Go and serde do', () => {
    const bom = Uint8Array.from([0xef, 0xbb, 0xbf, ...config([digest])])
    expect(() => parseDiffIds(bom, 1)).toThrow(
      expect.objectContaining({ code: 'ERR_IMAGE_CONFIG' }),
    )
  })

  it.each([
    ['empty', ''],
    ['upper-case hex', digest.toUpperCase()],
    ['sha512 (the unpacker hashes with sha256)', `sha512:${'ab'.repeat(64)}`],
    ['short', digest.slice(0, -1)],
    ['long junk', 'x'.repeat(100_000)],
  ])('refuses a diff_id that is %s, without echoing it', (_name, bad) => {
    let caught: unknown
    try {
      parseDiffIds(config([digest, bad]), 2)
    } catch (error) {
      caught = error
    }
    expect(caught).toMatchObject({ code: 'ERR_IMAGE_CONFIG', details: { index: 1 } })
    expect(JSON.stringify((caught as { toJSON: () => unknown }).toJSON()).length).toBeLessThan(1000)
  })
})

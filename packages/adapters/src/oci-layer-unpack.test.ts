import { execFileSync } from 'node:child_process'
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { unpackLayer } from './oci-layer-unpack.ts'
import { paxBlocks, tarArchive, type RawTarEntry } from './tar-test-support.ts'

const TAR = 'application/vnd.oci.image.layer.v1.tar'
const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip'
const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip'

/** A scratch area: `dest` to unpack into, and a sentinel file beside it that must stay put. */
function scratch(): { base: string; dest: string; sentinel: string } {
  const base = mkdtempSync(join(tmpdir(), 'initguard-layer-'))
  const dest = join(base, 'rootfs')
  mkdirSync(dest)
  const sentinel = join(base, 'sentinel')
  writeFileSync(sentinel, 'untouched')
  return { base, dest, sentinel }
}

/** Every path under `dir` with its kind (and contents or target), sorted. */
function tree(dir: string): string[] {
  const out: string[] = []
  const walk = (path: string): void => {
    for (const name of readdirSync(path).sort()) {
      const full = join(path, name)
      const info = lstatSync(full)
      const rel = relative(dir, full)
      if (info.isSymbolicLink()) out.push(`${rel} -> ${readlinkSync(full)}`)
      else if (info.isDirectory()) {
        out.push(`${rel}/`)
        walk(full)
      } else out.push(`${rel} = ${readFileSync(full, 'utf8')}`)
    }
  }
  walk(dir)
  return out
}

/** A layer made by GNU tar from files described as `path: contents` (`/` suffix: directory). */
function systemLayer(files: Readonly<Record<string, string>>): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-src-'))
  for (const [path, contents] of Object.entries(files)) {
    if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true })
    else {
      mkdirSync(join(dir, path, '..'), { recursive: true })
      writeFileSync(join(dir, path), contents)
    }
  }
  execFileSync('tar', [
    '--format=posix',
    '-czf',
    join(dir, '..', `${relative(tmpdir(), dir)}.tgz`),
    '-C',
    dir,
    '.',
  ])
  return new Uint8Array(readFileSync(join(dir, '..', `${relative(tmpdir(), dir)}.tgz`)))
}

async function expectRefused(promise: Promise<unknown>, code: string): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isInitguardError(error) ? error.code : error).toBe(code)
}

describe('unpackLayer', () => {
  it('applies two layers with a whiteout and an opaque directory', async () => {
    const { dest } = scratch()
    const lower = systemLayer({
      'etc/os-release': 'v1',
      'etc/old.conf': 'old',
      'var/cache/a': 'a',
      'var/cache/sub/b': 'b',
      'usr/bin/tool': 'tool',
    })
    const first = await unpackLayer(lower, GZIP, dest)
    expect(first).toMatchObject({ files: 5, whiteouts: 0 })
    const upper = tarArchive(
      { name: 'etc/.wh.old.conf' },
      { name: 'var/cache/', type: '5', mode: 0o755 },
      { name: 'var/cache/.wh..wh..opq' },
      { name: 'var/cache/fresh', data: 'new' },
      { name: 'etc/os-release', data: 'v2' },
      { name: 'usr/bin/alias', type: '1', linkName: 'usr/bin/tool' },
      { name: 'usr/bin/sh', type: '2', linkName: '/bin/busybox' },
      { name: 'dev/null', type: '3' },
      { name: 'run/fifo', type: '6' },
    )
    const second = await unpackLayer(gzipSync(upper), DOCKER_GZIP, dest)
    expect(second).toMatchObject({
      files: 2,
      directories: 1,
      symlinks: 1,
      hardlinks: 1,
      whiteouts: 2,
    })
    expect(second.skipped.map((skip) => skip.path)).toEqual(['dev/null', 'run/fifo'])
    expect(tree(dest)).toEqual([
      'etc/',
      'etc/os-release = v2',
      'usr/',
      'usr/bin/',
      'usr/bin/alias = tool',
      'usr/bin/sh -> /bin/busybox',
      'usr/bin/tool = tool',
      'var/',
      'var/cache/',
      'var/cache/fresh = new',
    ])
    expect(lstatSync(join(dest, 'usr/bin/alias')).ino).toBe(
      lstatSync(join(dest, 'usr/bin/tool')).ino,
    )
  })

  it('keeps only the permission bits and restores read-only directories', async () => {
    const { dest } = scratch()
    await unpackLayer(
      tarArchive(
        { name: 'ro/', type: '5', mode: 0o555 },
        { name: 'ro/suid', mode: 0o4755, data: '#!' },
        { name: 'tmp/', type: '5', mode: 0o1777 },
      ),
      TAR,
      dest,
    )
    expect(lstatSync(join(dest, 'ro/suid')).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(dest, 'ro')).mode & 0o7777).toBe(0o555)
    expect(lstatSync(join(dest, 'tmp')).mode & 0o7777).toBe(0o777)
  })

  const hostile: [string, string, (RawTarEntry | Uint8Array)[]][] = [
    ['absolute path', 'ERR_LAYER_ABSOLUTE_PATH', [{ name: '/etc/passwd', data: 'x' }]],
    [
      '../ component',
      'ERR_LAYER_PARENT_PATH',
      [{ name: 'ok' }, { name: '../sentinel', data: 'x' }],
    ],
    ['nested ..', 'ERR_LAYER_PARENT_PATH', [{ name: 'a/b/../../../x', data: 'x' }]],
    ['empty name', 'ERR_LAYER_EMPTY_NAME', [{ name: '', data: 'x' }]],
    [
      'write through an archive symlink',
      'ERR_LAYER_SYMLINK_PARENT',
      [
        { name: 'ok', data: 'x' },
        { name: 'escape', type: '2', linkName: '..' },
        { name: 'escape/sentinel', data: 'x' },
      ],
    ],
    [
      'write through an absolute archive symlink',
      'ERR_LAYER_SYMLINK_PARENT',
      [
        { name: 'escape', type: '2', linkName: '/tmp' },
        { name: 'escape/planted', data: 'x' },
      ],
    ],
    [
      'hardlink outside',
      'ERR_LAYER_PARENT_PATH',
      [{ name: 'link', type: '1', linkName: '../sentinel' }],
    ],
    [
      'hardlink absolute',
      'ERR_LAYER_ABSOLUTE_PATH',
      [{ name: 'link', type: '1', linkName: '/etc/passwd' }],
    ],
    [
      'hardlink to a later entry',
      'ERR_LAYER_HARDLINK_TARGET',
      [
        { name: 'link', type: '1', linkName: 'later' },
        { name: 'later', data: 'x' },
      ],
    ],
    [
      'hardlink through a symlink',
      'ERR_LAYER_SYMLINK_PARENT',
      [
        { name: 's', type: '2', linkName: '..' },
        { name: 'link', type: '1', linkName: 's/sentinel' },
      ],
    ],
    [
      'long PAX name with ..',
      'ERR_LAYER_PARENT_PATH',
      [
        paxBlocks({ path: `${'a/'.repeat(80)}../../${'../'.repeat(80)}sentinel` }),
        { name: 'short', data: 'x' },
      ],
    ],
    ['whiteout of ..', 'ERR_LAYER_WHITEOUT', [{ name: 'a/.wh...' }]],
  ]
  it.each(hostile)('refuses a layer with %s and writes nothing', async (_what, code, parts) => {
    const { base, dest, sentinel } = scratch()
    const before = tree(base)
    await expectRefused(unpackLayer(tarArchive(...parts), TAR, dest), code)
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(tree(base)).toEqual(before)
    expect(readdirSync(dest)).toEqual([])
  })

  it('refuses writing or whiting out through a lower-layer symlink', async () => {
    const { base, dest, sentinel } = scratch()
    await unpackLayer(tarArchive({ name: 'up', type: '2', linkName: '..' }), TAR, dest)
    const before = tree(base)
    for (const name of ['up/sentinel', 'up/.wh.sentinel', 'up/deeper/file']) {
      await expectRefused(
        unpackLayer(tarArchive({ name: 'ok' }, { name, data: 'x' }), TAR, dest),
        'ERR_LAYER_SYMLINK_PARENT',
      )
    }
    // An opaque marker on a symlink is a no-op: the symlink's target is never listed or cleared.
    await unpackLayer(tarArchive({ name: 'up/.wh..wh..opq' }), TAR, dest)
    expect(tree(base)).toEqual(before)
    // A whiteout of the symlink itself removes the link, not what it points to.
    await unpackLayer(tarArchive({ name: '.wh.up' }), TAR, dest)
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(tree(base)).toEqual(before.filter((line) => !line.startsWith('rootfs/up')))
  })

  it('replaces a lower-layer symlink by a directory only when the layer says so', async () => {
    const { dest, sentinel } = scratch()
    symlinkSync('..', join(dest, 'lib'))
    await unpackLayer(
      tarArchive(
        { name: 'lib/', type: '5', mode: 0o755 },
        { name: 'lib/sentinel', data: 'inside' },
      ),
      TAR,
      dest,
    )
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(readFileSync(join(dest, 'lib/sentinel'), 'utf8')).toBe('inside')
  })

  it('stops gzip bombs at the size limit', async () => {
    const { dest } = scratch()
    const bomb = gzipSync(tarArchive({ name: 'zeros', data: new Uint8Array(8 * 1024 * 1024) }))
    expect(bomb.length).toBeLessThan(64 * 1024)
    await expectRefused(
      unpackLayer(bomb, GZIP, dest, { maxUnpackedSize: 1024 * 1024 }),
      'ERR_LAYER_TOO_LARGE',
    )
    await expectRefused(
      unpackLayer(new Uint8Array(2048), TAR, dest, { maxUnpackedSize: 1024 }),
      'ERR_LAYER_TOO_LARGE',
    )
    await expectRefused(unpackLayer(new Uint8Array([1, 2, 3]), GZIP, dest), 'ERR_LAYER_GZIP')
    expect(readdirSync(dest)).toEqual([])
  })

  it('refuses zstd, unknown media types and a missing destination', async () => {
    const { base, dest } = scratch()
    const layer = tarArchive({ name: 'a' })
    await expectRefused(
      unpackLayer(layer, 'application/vnd.oci.image.layer.v1.tar+zstd', dest),
      'ERR_LAYER_ZSTD_UNSUPPORTED',
    )
    await expectRefused(
      unpackLayer(layer, 'application/octet-stream', dest),
      'ERR_LAYER_MEDIA_TYPE',
    )
    await expectRefused(unpackLayer(layer, TAR, join(base, 'missing')), 'ERR_LAYER_DEST')
  })
})

/**
 * unpackLayer over layers in memory: whiteouts and opaque directories, permission bits, symlinks
 * (in the archive and from lower layers) that point above DEST, merged /usr, symlink loops,
 * gzip bombs and unknown media types. Streaming from a file (DiffID checks, truncated and lying
 * layers, limits, cancellation, GNU tar round trips) is in oci-layer-unpack-stream.test.ts.
 */
import { execFileSync } from 'node:child_process'
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { gzipSync } from 'node:zlib'
import { describe, expect, it } from 'vitest'
import { GZIP, TAR, expectRefused, scratch, tree } from './layer-test-support.ts'
import { unpackLayer } from './oci-layer-unpack.ts'
import { paxBlocks, tarArchive, type RawTarEntry } from './tar-test-support.ts'

const DOCKER_GZIP = 'application/vnd.docker.image.rootfs.diff.tar.gzip'

/** A layer made by GNU tar from files described as `path: contents` (`/` suffix: directory). */
function systemLayer(files: Readonly<Record<string, string>>): Uint8Array {
  const base = mkdtempSync(join(tmpdir(), 'initguard-src-'))
  const dir = join(base, 'files')
  const layer = join(base, 'layer.tgz')
  try {
    mkdirSync(dir)
    for (const [path, contents] of Object.entries(files)) {
      if (path.endsWith('/')) mkdirSync(join(dir, path), { recursive: true })
      else {
        mkdirSync(join(dir, path, '..'), { recursive: true })
        writeFileSync(join(dir, path), contents)
      }
    }
    execFileSync('tar', ['--format=posix', '-czf', layer, '-C', dir, '.'])
    return new Uint8Array(readFileSync(layer))
  } finally {
    rmSync(base, { recursive: true, force: true })
  }
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
    // Not created, but their parents are, as containerd makes them.
    expect(tree(dest)).toEqual([
      'dev/',
      'etc/',
      'etc/os-release = v2',
      'run/',
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
      'symlink loop',
      'ERR_LAYER_SYMLINK_LOOP',
      [
        { name: 'ok', data: 'x' },
        { name: 'a', type: '2', linkName: 'b' },
        { name: 'b', type: '2', linkName: '/a' },
        { name: 'a/file', data: 'x' },
      ],
    ],
    [
      'symlink to itself below itself',
      'ERR_LAYER_SYMLINK_LOOP',
      [
        { name: 'self', type: '2', linkName: 'self/..' },
        { name: 'self/file', data: 'x' },
      ],
    ],
    [
      'hardlink through a symlink loop',
      'ERR_LAYER_SYMLINK_LOOP',
      [
        { name: 'ok', data: 'x' },
        { name: 'loop', type: '2', linkName: './loop' },
        { name: 'link', type: '1', linkName: 'loop/ok' },
      ],
    ],
    [
      'write below a file reached through a symlink',
      'ERR_LAYER_PARENT_NOT_DIRECTORY',
      [
        { name: 'f', data: 'x' },
        { name: 'via', type: '2', linkName: '/f' },
        { name: 'via/x', data: 'x' },
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
      // Resolved chroot-style to DEST/sentinel, which does not exist: never the file beside DEST.
      'hardlink through a symlink',
      'ERR_LAYER_HARDLINK_TARGET',
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

  it('clamps writes through archive symlinks that point above DEST to DEST', async () => {
    const { base, dest, sentinel } = scratch()
    const planted = `initguard-planted-${relative(tmpdir(), base)}`
    const outside = tree(base).filter((line) => !line.startsWith('rootfs'))
    await unpackLayer(
      tarArchive(
        { name: 'escape', type: '2', linkName: '../../..' },
        { name: 'escape/etc/passwd', data: 'root:x:0:0' },
        { name: 'up', type: '2', linkName: '..' },
        { name: 'up/sentinel', data: 'inside' },
        { name: 'scratch', type: '2', linkName: '/tmp' },
        { name: `scratch/${planted}`, data: 'inside' },
        { name: 'deep', type: '2', linkName: '/../../etc/../../tmp/..' },
        { name: 'deep/at-root', data: 'inside' },
      ),
      TAR,
      dest,
    )
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(existsSync(join(tmpdir(), planted))).toBe(false)
    expect(existsSync(join('/tmp', planted))).toBe(false)
    expect(tree(base).filter((line) => !line.startsWith('rootfs'))).toEqual(outside)
    expect(tree(dest)).toEqual([
      'at-root = inside',
      'deep -> /../../etc/../../tmp/..',
      'escape -> ../../..',
      'etc/',
      'etc/passwd = root:x:0:0',
      'scratch -> /tmp',
      'sentinel = inside',
      'tmp/',
      `tmp/${planted} = inside`,
      'up -> ..',
    ])
  })

  it('gives no mode through a parent that a later entry replaced by a symlink', async () => {
    const { base, dest } = scratch()
    // Directories beside DEST and inside it that a layer's symlink can name.
    const outside = join(base, 'victim')
    mkdirSync(outside, { mode: 0o755 })
    await unpackLayer(tarArchive({ name: 'kept/victim/', type: '5', mode: 0o755 }), TAR, dest)
    const result = await unpackLayer(
      tarArchive(
        { name: 'a/', type: '5', mode: 0o755 },
        { name: 'a/victim/', type: '5', mode: 0o000 },
        { name: 'a', type: '2', linkName: base },
        { name: 'b/', type: '5', mode: 0o755 },
        { name: 'b/victim/', type: '5', mode: 0o000 },
        { name: 'b', type: '2', linkName: 'kept' },
      ),
      TAR,
      dest,
    )
    expect(result).toMatchObject({ directories: 4, symlinks: 2 })
    expect(lstatSync(outside).mode & 0o7777).toBe(0o755)
    expect(lstatSync(join(dest, 'kept/victim')).mode & 0o7777).toBe(0o755)
    expect(tree(dest)).toEqual([`a -> ${base}`, 'b -> kept', 'kept/', 'kept/victim/'])
  })

  it('clamps writes and whiteouts through lower-layer symlinks that point above DEST', async () => {
    const { base, dest, sentinel } = scratch()
    await unpackLayer(
      tarArchive({ name: 'up', type: '2', linkName: '..' }, { name: 'keep', data: 'k' }),
      TAR,
      dest,
    )
    const outside = tree(base).filter((line) => !line.startsWith('rootfs'))
    await unpackLayer(
      tarArchive({ name: 'up/sentinel', data: 'x' }, { name: 'up/deeper/file', data: 'y' }),
      TAR,
      dest,
    )
    expect(tree(dest)).toEqual([
      'deeper/',
      'deeper/file = y',
      'keep = k',
      'sentinel = x',
      'up -> ..',
    ])
    // A whiteout through the link removes DEST/sentinel, never the file beside DEST.
    await unpackLayer(tarArchive({ name: 'up/.wh.sentinel' }), TAR, dest)
    expect(tree(dest)).toEqual(['deeper/', 'deeper/file = y', 'keep = k', 'up -> ..'])
    // An opaque marker through the link clears the directory it resolves to: DEST itself.
    await unpackLayer(
      tarArchive({ name: 'up/deeper/.wh..wh..opq' }, { name: 'up/deeper/new', data: 'n' }),
      TAR,
      dest,
    )
    expect(tree(dest)).toEqual(['deeper/', 'deeper/new = n', 'keep = k', 'up -> ..'])
    await unpackLayer(tarArchive({ name: 'up/.wh..wh..opq' }), TAR, dest)
    expect(tree(dest)).toEqual([])
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(tree(base).filter((line) => !line.startsWith('rootfs'))).toEqual(outside)
  })

  it('writes through merged-/usr links, relative and absolute, into DEST/usr', async () => {
    const { base, dest, sentinel } = scratch()
    const outside = tree(base).filter((line) => !line.startsWith('rootfs'))
    await unpackLayer(
      tarArchive(
        { name: 'usr/', type: '5', mode: 0o755 },
        { name: 'usr/lib/', type: '5', mode: 0o755 },
        { name: 'usr/bin/', type: '5', mode: 0o755 },
        { name: 'usr/bin/busybox', data: 'bb' },
        { name: 'lib', type: '2', linkName: 'usr/lib' },
        { name: 'bin', type: '2', linkName: '/usr/bin' },
        { name: 'sbin', type: '2', linkName: '/bin/' },
        { name: 'lib64', type: '2', linkName: './usr/../lib/./' },
        // The same layer already writes through the links it has just created.
        { name: 'lib/ld-linux.so', data: 'ld' },
      ),
      TAR,
      dest,
    )
    const upper = await unpackLayer(
      gzipSync(
        tarArchive(
          { name: 'lib/x86_64-linux-gnu/', type: '5', mode: 0o755 },
          { name: 'lib/x86_64-linux-gnu/libc.so.6', data: 'libc' },
          { name: 'lib64/x86_64-linux-gnu/libc.so', type: '2', linkName: 'libc.so.6' },
          { name: 'sbin/init', data: 'init' },
          { name: 'bin/sh', type: '1', linkName: 'sbin/busybox' },
          { name: 'lib/.wh.ld-linux.so' },
        ),
      ),
      GZIP,
      dest,
    )
    expect(upper).toMatchObject({ files: 2, directories: 1, symlinks: 1, hardlinks: 1 })
    expect(upper.whiteouts).toBe(1)
    expect(tree(dest)).toEqual([
      'bin -> /usr/bin',
      'lib -> usr/lib',
      'lib64 -> ./usr/../lib/./',
      'sbin -> /bin/',
      'usr/',
      'usr/bin/',
      'usr/bin/busybox = bb',
      'usr/bin/init = init',
      'usr/bin/sh = bb',
      'usr/lib/',
      'usr/lib/x86_64-linux-gnu/',
      'usr/lib/x86_64-linux-gnu/libc.so -> libc.so.6',
      'usr/lib/x86_64-linux-gnu/libc.so.6 = libc',
    ])
    expect(lstatSync(join(dest, 'usr/bin/sh')).ino).toBe(
      lstatSync(join(dest, 'usr/bin/busybox')).ino,
    )
    expect(readFileSync(sentinel, 'utf8')).toBe('untouched')
    expect(tree(base).filter((line) => !line.startsWith('rootfs'))).toEqual(outside)
  })

  it('whites out through in-root symlinks, and removes a link itself when it is named', async () => {
    const { dest } = scratch()
    await unpackLayer(
      systemLayer({ 'usr/lib/a': 'a', 'usr/lib/b': 'b', 'usr/lib/sub/c': 'c' }),
      GZIP,
      dest,
    )
    await unpackLayer(tarArchive({ name: 'lib', type: '2', linkName: '/usr/lib' }), TAR, dest)
    await unpackLayer(
      tarArchive(
        { name: 'lib/.wh.a' },
        { name: 'lib/sub/.wh..wh..opq' },
        { name: 'lib/sub/d', data: 'd' },
      ),
      TAR,
      dest,
    )
    expect(tree(dest)).toEqual([
      'lib -> /usr/lib',
      'usr/',
      'usr/lib/',
      'usr/lib/b = b',
      'usr/lib/sub/',
      'usr/lib/sub/d = d',
    ])
    // The final component is never followed: `.wh.lib` removes the link, not usr/lib.
    await unpackLayer(tarArchive({ name: '.wh.lib' }), TAR, dest)
    expect(tree(dest)).toEqual([
      'usr/',
      'usr/lib/',
      'usr/lib/b = b',
      'usr/lib/sub/',
      'usr/lib/sub/d = d',
    ])
  })

  it('replaces a symlink named by a file entry instead of writing through it', async () => {
    const { dest } = scratch()
    await unpackLayer(
      tarArchive(
        { name: 'usr/lib/real', data: 'real' },
        { name: 'usr/lib/alias', type: '2', linkName: '/usr/lib/real' },
        { name: 'lib', type: '2', linkName: 'usr/lib' },
      ),
      TAR,
      dest,
    )
    await unpackLayer(
      tarArchive(
        { name: 'lib/alias', data: 'replaced' },
        { name: 'lib', data: 'now a file' },
        { name: 'same', type: '2', linkName: 'usr/lib/real' },
        { name: 'same', data: 'own file' },
      ),
      TAR,
      dest,
    )
    expect(tree(dest)).toEqual([
      'lib = now a file',
      'same = own file',
      'usr/',
      'usr/lib/',
      'usr/lib/alias = replaced',
      'usr/lib/real = real',
    ])
  })

  it('refuses a symlink loop left by a lower layer before writing anything', async () => {
    const { dest } = scratch()
    await unpackLayer(
      tarArchive(
        { name: 'a', type: '2', linkName: 'b/x' },
        { name: 'b', type: '2', linkName: '../a' },
      ),
      TAR,
      dest,
    )
    const before = tree(dest)
    await expectRefused(
      unpackLayer(tarArchive({ name: 'new', data: 'x' }, { name: 'a/y', data: 'y' }), TAR, dest),
      'ERR_LAYER_SYMLINK_LOOP',
    )
    await expectRefused(
      unpackLayer(tarArchive({ name: 'b/.wh.y' }), TAR, dest),
      'ERR_LAYER_SYMLINK_LOOP',
    )
    expect(tree(dest)).toEqual(before)
    // A chain of 40 links is followed; one more is a loop.
    const chain = (length: number): RawTarEntry[] => [
      { name: 'target/', type: '5', mode: 0o755 },
      ...Array.from({ length }, (_, i) => ({
        name: `l${i}`,
        type: '2',
        linkName: i === 0 ? 'target' : `/l${i - 1}`,
      })),
      { name: `l${length - 1}/file`, data: 'x' },
    ]
    const ok = scratch()
    await unpackLayer(tarArchive(...chain(40)), TAR, ok.dest)
    expect(readFileSync(join(ok.dest, 'target/file'), 'utf8')).toBe('x')
    await expectRefused(
      unpackLayer(tarArchive(...chain(41)), TAR, scratch().dest),
      'ERR_LAYER_SYMLINK_LOOP',
    )
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

  it('refuses unknown media types and a missing destination', async () => {
    const { base, dest } = scratch()
    const layer = tarArchive({ name: 'a' })
    await expectRefused(
      unpackLayer(layer, 'application/octet-stream', dest),
      'ERR_LAYER_MEDIA_TYPE',
    )
    await expectRefused(unpackLayer(layer, TAR, join(base, 'missing')), 'ERR_LAYER_DEST')
  })
})

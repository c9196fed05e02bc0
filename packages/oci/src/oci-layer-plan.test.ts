import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { expectRefused, scratch, tree } from './layer-test-support.ts'
import { MAX_PATH_BYTES, NAME_MAX } from './oci-layer-plan.ts'
import { unpackLayer } from './oci-layer-unpack.ts'
import { paxBlocks, tarArchive, tarBlocks } from './tar-test-support.ts'

const TAR = 'application/vnd.oci.image.layer.v1.tar'

/** A lower layer already in `dest`: a file, a directory with contents, and a plain file. */
function lowerLayer(dest: string): void {
  mkdirSync(join(dest, 'etc'))
  writeFileSync(join(dest, 'etc/shadow'), 'secret')
  mkdirSync(join(dest, 'var/lib'), { recursive: true })
  writeFileSync(join(dest, 'var/lib/state'), 'kept?')
  writeFileSync(join(dest, 'pax_global_header'), 'lower')
  mkdirSync(join(dest, 'bin'))
}

describe('unpackLayer: entry types', () => {
  it('refuses the type flags containerd fails a layer on, before writing anything', async () => {
    const { dest } = scratch()
    // containerd's createTarFile: "unhandled tar header type" for anything but 0, \0, 1-6 and g
    // (Go's archive/tar hands all of these over as entries, `7` with its contents).
    for (const type of ['7', 'V', 'M', 'N', 'A', 'D', 'I', 'X', 'Z']) {
      const layer = tarArchive({ name: 'first', data: 'x' }, { name: 'odd', type, data: 'data' })
      const error = await expectRefused(unpackLayer(layer, TAR, dest), 'ERR_LAYER_ENTRY_TYPE')
      expect(String(error)).toContain(`type flag ${JSON.stringify(type)}`)
    }
    expect(tree(dest)).toEqual([])
    // containerd acts on a whiteout and on the root entry before it looks at the type.
    writeFileSync(join(dest, 'gone'), 'lower')
    const result = await unpackLayer(
      tarArchive({ name: './', type: 'V' }, { name: '.wh.gone', type: '7' }),
      TAR,
      dest,
    )
    expect(result.whiteouts).toBe(1)
    expect(tree(dest)).toEqual([])
  })

  it('removes what lower layers had where a device, FIFO or global header stands', async () => {
    const { dest } = scratch()
    lowerLayer(dest)
    const layer = tarArchive(
      { name: 'etc/shadow', type: '6' },
      { name: 'var/lib', type: '3' },
      paxBlocks({ comment: 'git' }, 'g'),
      // A global header named as a whiteout is one to containerd.
      tarBlocks({ name: '.wh.bin', type: 'g' }),
      { name: 'new/dir/dev', type: '4' },
    )
    const result = await unpackLayer(layer, TAR, dest)
    expect(result.skipped.map((skip) => skip.path)).toEqual([
      'etc/shadow',
      'var/lib',
      'pax_global_header',
      'new/dir/dev',
    ])
    expect(result.whiteouts).toBe(1)
    // containerd leaves a FIFO, a device and nothing there, and makes the parents.
    expect(tree(dest)).toEqual(['etc/', 'new/', 'new/dir/', 'var/'])
  })

  it('makes the parents of whiteouts and opaque markers, as containerd does', async () => {
    const { dest } = scratch()
    // containerd makes an entry's parents before it reads its name as a whiteout.
    const result = await unpackLayer(
      tarArchive({ name: 'a/b/.wh.c' }, { name: 'd/.wh..wh..opq' }),
      TAR,
      dest,
    )
    expect(result.whiteouts).toBe(2)
    expect(tree(dest)).toEqual(['a/', 'a/b/', 'd/'])
  })

  it('refuses a hardlink to where a FIFO replaced a lower file', async () => {
    const { dest } = scratch()
    lowerLayer(dest)
    // containerd links to the FIFO; linking to the lower file would give its contents.
    await expectRefused(
      unpackLayer(
        tarArchive(
          { name: 'etc/shadow', type: '6' },
          { name: 'copy', type: '1', linkName: 'etc/shadow' },
        ),
        TAR,
        dest,
      ),
      'ERR_LAYER_HARDLINK_TARGET',
    )
    expect(readFileSync(join(dest, 'etc/shadow'), 'utf8')).toBe('secret')
  })
})

describe('unpackLayer: name and path limits', () => {
  const long = (bytes: number): string => 'n'.repeat(bytes)

  it('refuses a name component over NAME_MAX bytes before writing anything', async () => {
    const { dest } = scratch()
    expect(NAME_MAX).toBe(255)
    const refused = [
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: `dir/${long(256)}` }), {
        name: 'f',
      }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: `${long(256)}/f` }), {
        name: 'f',
      }),
      // Bytes, not characters: 128 two-byte characters.
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: 'é'.repeat(128) }), { name: 'f' }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: `.wh.${long(252)}` }), {
        name: 'f',
      }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ linkpath: `${long(256)}/t` }), {
        name: 'hard',
        type: '1',
      }),
    ]
    for (const layer of refused)
      await expectRefused(unpackLayer(layer, TAR, dest), 'ERR_LAYER_NAME_TOO_LONG')
    expect(tree(dest)).toEqual([])
    await unpackLayer(
      tarArchive(paxBlocks({ path: `dir/${long(255)}` }), { name: 'f', data: 'ok' }),
      TAR,
      dest,
    )
    expect(tree(dest)).toEqual(['dir/', `dir/${long(255)} = ok`])
  })

  it('refuses a path or link target over PATH_MAX bytes before writing anything', async () => {
    const { dest } = scratch()
    // Components within NAME_MAX, the whole up to or beyond what the kernel takes here.
    const parts = (count: number): string =>
      Array.from({ length: count }, () => long(250)).join('/')
    const pathOf = (bytes: number): string => {
      const out: string[] = []
      let left = bytes
      for (; left > 251; left -= 251) out.push(long(250))
      return [...out, long(left)].join('/')
    }
    const fits = pathOf(MAX_PATH_BYTES - Buffer.byteLength(dest) - 1)
    const refused = [
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: parts(17) }), { name: 'f' }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: `${fits}x` }), { name: 'f' }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ path: `${parts(17)}/.wh.x` }), {
        name: 'f',
      }),
      tarArchive({ name: 'first', data: 'x' }, paxBlocks({ linkpath: long(MAX_PATH_BYTES + 1) }), {
        name: 'link',
        type: '2',
      }),
    ]
    for (const layer of refused)
      await expectRefused(unpackLayer(layer, TAR, dest), 'ERR_LAYER_PATH_TOO_LONG')
    expect(tree(dest)).toEqual([])
    expect(Buffer.byteLength(join(dest, fits))).toBe(MAX_PATH_BYTES)
    await unpackLayer(
      tarArchive(
        paxBlocks({ path: fits }),
        { name: 'f', data: 'ok' },
        paxBlocks({ linkpath: long(MAX_PATH_BYTES) }),
        { name: 'link', type: '2' },
      ),
      TAR,
      dest,
    )
    expect(readFileSync(join(dest, fits), 'utf8')).toBe('ok')
  })

  it('checks the limits on paths as symlinks lengthen them', async () => {
    const { dest } = scratch()
    // A lower layer's link to a deep directory, and one whose target has a long component.
    const deep = Array.from({ length: 15 }, () => long(250)).join('/')
    mkdirSync(join(dest, deep), { recursive: true })
    symlinkSync(deep, join(dest, 'deep'))
    symlinkSync(`${long(300)}/x`, join(dest, 'wide'))
    const before = tree(dest)
    await expectRefused(
      unpackLayer(
        tarArchive(
          { name: 'first', data: 'x' },
          paxBlocks({ path: `deep/${long(200)}/${long(200)}/f` }),
          { name: 'f' },
        ),
        TAR,
        dest,
      ),
      'ERR_LAYER_PATH_TOO_LONG',
    )
    await expectRefused(
      unpackLayer(tarArchive({ name: 'first', data: 'x' }, { name: 'wide/f' }), TAR, dest),
      'ERR_LAYER_NAME_TOO_LONG',
    )
    expect(tree(dest)).toEqual(before)
  })
})

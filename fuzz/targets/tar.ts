/**
 * The OCI layer tar reader, whole (`readTar`) and streamed in uneven chunks (`TarStreamReader`),
 * over archives with every entry type a layer holds: files, directories, symbolic and hard links,
 * whiteouts, PAX records, GNU long names and links, ustar prefixes.
 *
 * @module
 */
import { TarStreamReader, readTar } from '@initguard/oci'
import { paxBlocks, tarArchive, tarBlocks } from '../../packages/oci/src/tar-test-support.ts'
import { madeSeed } from '../corpus.ts'
import type { FuzzTarget } from '../engine.ts'

const LONG = `very/${'long-directory-name/'.repeat(8)}file.txt`

/** Layers as image builders write them. */
function layers(): Uint8Array[] {
  return [
    tarArchive(
      { name: 'etc/', type: '5', mode: 0o755 },
      { name: 'etc/hostname', data: 'guest\n' },
      { name: 'etc/localtime', type: '2', linkName: '/usr/share/zoneinfo/UTC' },
      { name: 'etc/hosts.bak', type: '1', linkName: 'etc/hostname' },
      { name: 'etc/.wh.old', data: '' },
      { name: 'etc/.wh..wh..opq', data: '' },
    ),
    tarArchive(
      paxBlocks({ path: LONG, mtime: '1700000000.5', 'SCHILY.xattr.user.a': 'b', uid: '1000' }),
      { name: 'placeholder', data: 'x'.repeat(700) },
      paxBlocks({ linkpath: LONG }),
      { name: 'link', type: '2', linkName: 'placeholder' },
    ),
    tarArchive(
      tarBlocks({ name: '././@LongLink', type: 'L', data: `${LONG}\0` }),
      { name: 'short', data: 'data' },
      tarBlocks({ name: '././@LongLink', type: 'K', data: `${LONG}\0` }),
      { name: 'short-link', type: '2', linkName: 'x' },
      { name: 'file-in-prefix', prefix: 'usr/local/share', data: new Uint8Array(1025).fill(7) },
    ),
  ]
}

/** Push `archive` in chunks whose sizes come from the archive's own bytes (uneven, repeatable). */
function streamed(archive: Uint8Array): number {
  const reader = new TarStreamReader()
  let events = 0
  let at = 0
  while (at < archive.length) {
    const size = 1 + (((archive[at] ?? 0) * 7 + at) % 1500)
    for (const event of reader.push(archive.subarray(at, at + size)))
      if (event.kind !== 'data') events++
    at += size
  }
  reader.end()
  return events
}

export const tarTarget: FuzzTarget = {
  name: 'tar',
  description: 'readTar and TarStreamReader over layers with every entry type',
  prepare: () => {
    const seeds = layers().flatMap((layer, i) => [
      madeSeed('read', 'binary', layer, `layer ${String(i)}`),
      madeSeed('stream', 'binary', layer, `layer ${String(i)}`),
    ])
    return Promise.resolve({
      seeds,
      entries: {
        read: (input) => readTar(input),
        stream: (input) => streamed(input),
      },
    })
  },
}

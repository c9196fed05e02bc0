/**
 * Finding the initdata block device by its magic in a device directory where regular files stand
 * in for the disks: the one with the magic among whole disks (partitions and short headers not
 * taken), a by-id link and its disk counted once, none (every path looked at named), two
 * (ambiguous), a directory that cannot be listed; and the init-data step using it end to end.
 */
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildInitdataImage } from '@initguard/initdata'
import { rejected } from '@initguard/testkit'
import { establishInitdata } from './establish-initdata.ts'
import { findInitdataDevice } from './initdata-device.ts'
import { temporaryGuestWorld } from './launched-guest-test-support.ts'

const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"cdh.toml" = "x"\n'
const IMAGE = buildInitdataImage(new TextEncoder().encode(DOCUMENT))
const BLANK = new Uint8Array(4096)

const world = temporaryGuestWorld('initguard-agent-device-')

/** A new device directory holding `disks` (name → content) as regular files. */
function devices(disks: Record<string, Uint8Array | string>): string {
  const dev = mkdtempSync(join(world.dir, 'dev-'))
  for (const [name, content] of Object.entries(disks)) writeFileSync(join(dev, name), content)
  return dev
}

describe('findInitdataDevice', () => {
  it('takes the one whole disk with the magic; partitions, other names and short headers are not candidates', async () => {
    const dev = devices({
      vda: BLANK,
      vda1: IMAGE, // a partition: not looked at
      vdb: IMAGE,
      sda: 'initdata', // the magic, but not a whole header
      xvdc: BLANK,
      loop0: IMAGE, // not a disk name scanned
      'vdb.img': IMAGE,
    })
    expect(await findInitdataDevice({ devDir: dev })).toBe(join(dev, 'vdb'))
  })

  it('a by-id link and the disk it names are one device, found under the by-id name', async () => {
    const dev = devices({ vda: BLANK, vdb: IMAGE })
    mkdirSync(join(dev, 'disk', 'by-id'), { recursive: true })
    symlinkSync('../../vdb', join(dev, 'disk', 'by-id', 'virtio-initdata-1'))
    symlinkSync('../../vda', join(dev, 'disk', 'by-id', 'virtio-root'))
    expect(await findInitdataDevice({ devDir: dev })).toBe(
      join(dev, 'disk', 'by-id', 'virtio-initdata-1'),
    )
  })

  it('none: ERR_AGENT_INITDATA_DEVICE_NOT_FOUND naming every path looked at', async () => {
    const dev = devices({ vda: BLANK, sdb: BLANK, vdc1: IMAGE })
    const error = await rejected(findInitdataDevice({ devDir: dev }))
    expect(error.code).toBe('ERR_AGENT_INITDATA_DEVICE_NOT_FOUND')
    expect(error.category).toBe('io')
    expect(error.details['looked']).toEqual([join(dev, 'vda'), join(dev, 'sdb')])
    expect(error.message).toContain(join(dev, 'sdb'))
    expect(error.hint).toContain('--initdata')
    const empty = await rejected(findInitdataDevice({ devDir: devices({}) }))
    expect(empty.message).toContain('looked at nothing')
  })

  it('two disks with the magic: refused as ambiguous, naming both', async () => {
    const dev = devices({ vda: BLANK, vdb: IMAGE, sdc: IMAGE })
    const error = await rejected(findInitdataDevice({ devDir: dev }))
    expect(error.code).toBe('ERR_AGENT_INITDATA_DEVICE_AMBIGUOUS')
    expect(error.category).toBe('usage')
    expect(error.details['devices']).toEqual([join(dev, 'vdb'), join(dev, 'sdc')])
  })

  it('a device directory that cannot be listed: ERR_AGENT_INITDATA_DEVICE_SCAN', async () => {
    const error = await rejected(findInitdataDevice({ devDir: join(world.dir, 'no-dev') }))
    expect(error.code).toBe('ERR_AGENT_INITDATA_DEVICE_SCAN')
    expect(error.category).toBe('io')
  })
})

describe('establishInitdata without a path', () => {
  it('from image: the device found by its magic is read and checked', async () => {
    const dev = devices({ vda: BLANK, vdb: IMAGE })
    const done = await establishInitdata({
      tee: await world.guests.launch(DOCUMENT),
      from: 'image',
      devDir: dev,
    })
    expect(done.initdata.source).toEqual({ kind: 'image', path: join(dev, 'vdb') })
    expect(done.documents.verified).toBe(true)
  })

  it('from file or annotation: refused, as is a device directory with a named path', async () => {
    const tee = await world.guests.launch(DOCUMENT)
    for (const from of ['file', 'annotation'] as const) {
      const error = await rejected(establishInitdata({ tee, from }))
      expect(error.code).toBe('ERR_AGENT_INITDATA_PATH_MISSING')
    }
    const dev = devices({ vdb: IMAGE })
    const both = await rejected(
      establishInitdata({ tee, from: 'image', path: join(dev, 'vdb'), devDir: dev }),
    )
    expect(both.code).toBe('ERR_OPTION_NOT_APPLICABLE')
  })
})

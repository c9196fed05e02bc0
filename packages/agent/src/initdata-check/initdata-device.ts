/**
 * Finding the Kata initdata block device by its magic, when the operator does not name it.
 *
 * The candidates, in this order (DEV is `/dev` unless a test passes another directory):
 *
 * 1. `DEV/disk/by-id/virtio-initdata*` (when that directory exists);
 * 2. the whole disks `DEV/vd*`, then `DEV/sd*`, then `DEV/xvd*` (letters only: `vdb`, not the
 *    partition `vdb1`).
 *
 * Of each candidate that is a block device (or, standing in for one in tests, a regular file) only
 * the 16-byte header is read. Names that lead to the same device (a by-id link and its `vdX`) count
 * once. Exactly one must carry the magic `initdata`: none is refused naming every path looked at,
 * more than one is refused as ambiguous naming them, and so is a candidate that cannot be read
 * (it might be the device, or a second one).
 *
 * @module
 */
import { lstat, open, readdir, realpath, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LocalIoError, UsageError } from '@initguard/core'
import { INITDATA_HEADER_SIZE, isInitdataHeader, readUpTo } from './initdata-source.ts'

/** Options for {@link findInitdataDevice}. */
export interface FindInitdataDeviceOptions {
  /** The device directory to scan; default `/dev`. */
  readonly devDir?: string
}

const BY_ID_PREFIX = 'virtio-initdata'
const WHOLE_DISKS = [/^vd[a-z]+$/, /^sd[a-z]+$/, /^xvd[a-z]+$/] as const

/**
 * The path of the one initdata block device among the guest's disks (see the module).
 *
 * @throws {@link LocalIoError} `ERR_AGENT_INITDATA_DEVICE_NOT_FOUND` (details `looked`),
 *   `ERR_AGENT_INITDATA_DEVICE_UNREADABLE` (details `unreadable`), `ERR_AGENT_INITDATA_DEVICE_SCAN`
 *   (a directory that cannot be listed); {@link UsageError} `ERR_AGENT_INITDATA_DEVICE_AMBIGUOUS`
 *   (details `devices`).
 */
export async function findInitdataDevice(options: FindInitdataDeviceOptions = {}): Promise<string> {
  const devDir = options.devDir ?? '/dev'
  const candidates = await candidatePaths(devDir)
  const looked: string[] = []
  const found = new Map<string, string>() // real path → the first name it was found under
  const unreadable: string[] = []
  for (const path of candidates) {
    const info = await stat(path).catch(() => undefined) // a dangling link is not a device
    if (info === undefined || !(info.isBlockDevice() || info.isFile())) continue
    looked.push(path)
    try {
      const real = await realpath(path)
      if (found.has(real)) continue
      const handle = await open(path, 'r')
      let header
      try {
        header = await readUpTo(handle, 0, INITDATA_HEADER_SIZE, path)
      } finally {
        await handle.close()
      }
      if (isInitdataHeader(header)) found.set(real, path)
    } catch (error) {
      unreadable.push(`${path} (${error instanceof Error ? error.message : String(error)})`)
    }
  }
  if (unreadable.length > 0) {
    throw new LocalIoError(
      'ERR_AGENT_INITDATA_DEVICE_UNREADABLE',
      `cannot look for the initdata block device: ${unreadable.join('; ')} could not be read, and any of them might be it`,
      {
        details: { unreadable, looked },
        hint: 'run the agent as a user that can read the disks, or name the device with --initdata PATH',
      },
    )
  }
  const devices = [...found.values()]
  if (devices.length === 1 && devices[0] !== undefined) return devices[0]
  if (devices.length === 0) {
    throw new LocalIoError(
      'ERR_AGENT_INITDATA_DEVICE_NOT_FOUND',
      `no initdata block device (magic "initdata") in ${devDir}: looked at ${looked.length === 0 ? 'nothing (no disk/by-id/virtio-initdata*, vd*, sd* or xvd* disk)' : looked.join(', ')}`,
      {
        details: { devDir, looked },
        hint: 'check that the pod was given initdata (Kata attaches it as a disk), or name the device or image file with --initdata PATH',
      },
    )
  }
  throw new UsageError(
    'ERR_AGENT_INITDATA_DEVICE_AMBIGUOUS',
    `${devices.length} block devices carry the initdata magic (${devices.join(', ')}); which one the host meant cannot be told`,
    {
      details: { devices, looked },
      hint: 'name the device with --initdata PATH (a second initdata disk is not something Kata attaches: find out where it came from)',
    },
  )
}

/** The candidate paths, in scan order. */
async function candidatePaths(devDir: string): Promise<string[]> {
  const byId = join(devDir, 'disk', 'by-id')
  const paths: string[] = []
  if (await isDirectory(byId)) {
    const names = await list(byId)
    for (const name of names.filter((n) => n.startsWith(BY_ID_PREFIX))) paths.push(join(byId, name))
  }
  const names = await list(devDir)
  for (const pattern of WHOLE_DISKS) {
    for (const name of names.filter((n) => pattern.test(n))) paths.push(join(devDir, name))
  }
  return paths
}

async function isDirectory(path: string): Promise<boolean> {
  const info = await lstat(path).catch(() => undefined)
  return info?.isDirectory() === true
}

/** The names in `dir`, sorted: a stable scan order and stable messages. */
async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort()
  } catch (cause) {
    throw new LocalIoError(
      'ERR_AGENT_INITDATA_DEVICE_SCAN',
      `cannot list ${JSON.stringify(dir)} to look for the initdata block device: ${cause instanceof Error ? cause.message : String(cause)}`,
      {
        cause,
        details: { path: dir },
        hint: 'name the device with --initdata PATH, or check the device directory',
      },
    )
  }
}

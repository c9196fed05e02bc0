/**
 * Ctrl-C during `initguard image pull`, in a real child process: Debian's docker-registry behind
 * a loopback proxy that relays the layer blob's first half and then holds it, so the signal
 * arrives mid-download (the staging directory made, a blob half-written). The pull exits 128 +
 * the signal's number, as a shell reports an interrupted command and as `demo` does (130 for
 * SIGINT, 143 for SIGTERM, 129 for SIGHUP), and leaves nothing half-written: DEST is absent or
 * as it was, and no `.DEST.partial-…` staging directory or downloaded blob stays behind.
 */
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { RegistryClient } from '@initguard/oci'
import { pushTestImage, simpleTestImage } from '../../oci/src/oci-image-test-support.ts'
import { startRegistry, type TestRegistry } from '../../oci/src/registry-test-support.ts'
import {
  interruptWhenHeld,
  stagingLeftIn,
  startHoldingProxy,
  type HoldingProxy,
} from './interrupted-pull-test-support.ts'

let registry: TestRegistry
let proxy: HoldingProxy
let proxyHost: string
let dir: string
let layerDigest: string
let common: string[]

beforeAll(async () => {
  registry = await startRegistry()
  dir = await mkdtemp(join(tmpdir(), 'initguard-pull-interrupt-'))
  // A layer of some size, so that half of it is a real partial download.
  const image = simpleTestImage('interrupted '.repeat(20_000))
  layerDigest = image.layerDescriptor.digest
  const client = new RegistryClient({ insecureRegistries: [registry.host] })
  await pushTestImage(client, `${registry.host}/apps/slow`, 'v1', image)
  proxy = await startHoldingProxy(registry.host)
  proxyHost = proxy.host
  const policy = join(dir, 'allow.json')
  writeFileSync(
    policy,
    JSON.stringify({
      default: [{ type: 'reject' }],
      transports: { docker: { [`${proxyHost}/apps`]: [{ type: 'insecureAcceptAnything' }] } },
    }),
  )
  const registriesD = join(dir, 'registries.d')
  mkdirSync(registriesD)
  const auth = join(dir, 'auth.json')
  writeFileSync(auth, '{"auths":{}}')
  common = ['--policy', policy, '--insecure-registry', proxyHost]
  common.push('--registries-d', registriesD, '--authfile', auth)
}, 60_000)

afterAll(async () => {
  await proxy.stop()
  await registry.stop()
  await rm(dir, { recursive: true, force: true })
})

/** `image pull` into `DEST` in a fresh parent, interrupted by `signal` mid-download. */
async function interruptedPull(signal: NodeJS.Signals, destExists = false, json = false) {
  const parent = await mkdtemp(join(dir, 'parent-'))
  const dest = join(parent, 'rootfs')
  if (destExists) mkdirSync(dest)
  const hold = proxy.hold(layerDigest)
  const args = ['image', 'pull', `${proxyHost}/apps/slow:v1`, dest, ...common]
  const result = await interruptWhenHeld([...args, ...(json ? ['--json'] : [])], hold, signal, dir)
  return { ...result, parent, dest }
}

describe('image pull interrupted mid-download', () => {
  it('SIGINT: exit 130, DEST never made, nothing left behind', async () => {
    const result = await interruptedPull('SIGINT')
    expect(result, result.stderr).toMatchObject({ code: 130, signal: null })
    expect(result.stderr).toContain('stopped by SIGINT')
    expect(result.stderr).toContain('code: ERR_PULL_INTERRUPTED')
    expect(existsSync(result.dest)).toBe(false)
    expect(stagingLeftIn(result.parent)).toEqual([])
    expect(readdirSync(result.tmp)).toEqual([])
  }, 60_000)

  it('SIGTERM: exit 143, an empty DEST given stays as it was', async () => {
    const result = await interruptedPull('SIGTERM', true)
    expect(result, result.stderr).toMatchObject({ code: 143, signal: null })
    expect(readdirSync(result.dest)).toEqual([])
    expect(stagingLeftIn(result.parent)).toEqual([])
    expect(readdirSync(result.tmp)).toEqual([])
  }, 60_000)

  it('SIGHUP (the terminal closed): exit 129, said in the JSON, nothing left behind', async () => {
    const result = await interruptedPull('SIGHUP', false, true)
    expect(result, result.stderr).toMatchObject({ code: 129, signal: null })
    const report = JSON.parse(result.stdout) as { ok: boolean; error: { code: string } }
    expect(report).toMatchObject({ ok: false, error: { code: 'ERR_PULL_INTERRUPTED' } })
    expect(existsSync(result.dest)).toBe(false)
    expect(stagingLeftIn(result.parent)).toEqual([])
    expect(readdirSync(result.tmp)).toEqual([])
  }, 60_000)
})

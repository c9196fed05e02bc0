/**
 * Signature times against the real thing: a `dir:` image signed by `skopeo standalone-sign` with
 * GnuPG's clock moved ahead (`faked-system-time` in the signer's gpg.conf), or with a hand-made
 * payload whose `optional.timestamp` lies ahead, judged by `skopeo copy --policy` and by us.
 * containers/image sets no bound on either; we follow it up to CLOCK_SKEW_SECONDS for the
 * OpenPGP signature date and refuse beyond (see clock-skew.ts), and ignore `optional.timestamp`.
 */
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseImagePolicy } from '@initguard/image-policy'
import { createGpgHome, type TestGpgHome, type TestGpgKey } from './gpg-test-support.ts'
import { runSkopeo, type SkopeoResult } from './skopeo-test-support.ts'
import { simpleTestImage, writeOciLayout } from './oci-image-test-support.ts'
import { checkDirImage } from './dir-image.ts'

const run = promisify(execFile)
const IDENTITY = 'registry.example/team/app:v1'

let work: string
let gpg: TestGpgHome
let key: TestGpgKey
let image: string
let policyText: string
let policyFile: string

const skopeo = (args: readonly string[]): Promise<SkopeoResult> => runSkopeo(gpg.env, args)

/** gpg's `--faked-system-time` form of `date`: YYYYMMDDTHHMMSS, UTC. */
const gpgTime = (date: Date): string => date.toISOString().replace(/[-:]|\.\d+Z$/g, '')

/** Sign with GnuPG's clock at `signedAt` (only the OpenPGP signature date moves). */
async function withGpgClock<T>(signedAt: Date, sign: () => Promise<T>): Promise<T> {
  const conf = join(gpg.home, 'gpg.conf')
  await writeFile(conf, `faked-system-time ${gpgTime(signedAt)}!\n`)
  try {
    return await sign()
  } finally {
    await unlink(conf)
  }
}

/** Replace the image's one signature by a standalone-sign made at `signedAt`. */
async function signAt(signedAt: Date): Promise<void> {
  const signed = await withGpgClock(signedAt, () =>
    skopeo([
      'standalone-sign',
      join(image, 'manifest.json'),
      IDENTITY,
      key.fingerprint,
      '-o',
      join(image, 'signature-1'),
    ]),
  )
  if (!signed.ok) throw new Error(`skopeo standalone-sign failed: ${signed.stderr}`)
}

/** skopeo's verdict and ours on the image as it is now. */
async function verdicts(): Promise<{ skopeo: boolean; ours: boolean; reason: string }> {
  const out = await mkdtemp(join(work, 'out-'))
  const oracle = await skopeo(['--policy', policyFile, 'copy', `dir:${image}`, `dir:${out}`])
  const ours = (await checkDirImage(image, parseImagePolicy(policyText), { now: new Date() }))
    .decision
  return { skopeo: oracle.ok, ours: ours.accepted, reason: ours.reason }
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'initguard-signature-time-'))
  gpg = await createGpgHome()
  key = await gpg.generateKey('Signer', 'ed25519')
  const layout = join(work, 'layout')
  await writeOciLayout(layout, 'latest', simpleTestImage('signature time'))
  image = join(work, 'image')
  const copied = await skopeo(['--insecure-policy', 'copy', `oci:${layout}:latest`, `dir:${image}`])
  if (!copied.ok) throw new Error(`skopeo copy to dir: failed: ${copied.stderr}`)
  await writeFile(join(work, 'key.gpg'), key.publicKeyring)
  policyText = JSON.stringify({
    default: [{ type: 'reject' }],
    transports: {
      dir: {
        '': [
          {
            type: 'signedBy',
            keyType: 'GPGKeys',
            keyPath: join(work, 'key.gpg'),
            signedIdentity: { type: 'exactReference', dockerReference: IDENTITY },
          },
        ],
      },
    },
  })
  policyFile = join(work, 'policy.json')
  await writeFile(policyFile, policyText)
}, 60_000)

afterAll(async () => {
  await gpg.remove()
  await rm(work, { recursive: true, force: true })
})

describe('simple signing dates: our decision and skopeo copy --policy', () => {
  it('both accept a signature made now (the control)', async () => {
    await signAt(new Date())
    expect(await verdicts()).toMatchObject({ skopeo: true, ours: true })
  })

  it('both accept a signature dated a minute ahead (the signer clock ahead)', async () => {
    await signAt(new Date(Date.now() + 60_000))
    expect(await verdicts()).toMatchObject({ skopeo: true, ours: true })
  })

  it('skopeo accepts a signature dated an hour ahead; we refuse it (beyond the skew)', async () => {
    await signAt(new Date(Date.now() + 3_600_000))
    const result = await verdicts()
    expect(result).toMatchObject({ skopeo: true, ours: false })
    expect(result.reason).toContain('more than 300 s after the verification time')
  })

  it('both ignore optional.timestamp, even far ahead', async () => {
    const digest = createHash('sha256')
      .update(await readFile(join(image, 'manifest.json')))
      .digest('hex')
    const payload = JSON.stringify({
      critical: {
        identity: { 'docker-reference': IDENTITY },
        image: { 'docker-manifest-digest': `sha256:${digest}` },
        type: 'atomic container signature',
      },
      optional: { creator: 'test', timestamp: 99_999_999_999 },
    })
    const payloadFile = join(work, 'payload.json')
    await writeFile(payloadFile, payload)
    await rm(join(image, 'signature-1'), { force: true })
    await run(
      'gpg',
      ['--batch', '-u', key.fingerprint, '-o', join(image, 'signature-1'), '--sign', payloadFile],
      { env: gpg.env },
    )
    expect(await verdicts()).toMatchObject({ skopeo: true, ours: true })
  })
})

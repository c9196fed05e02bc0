import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { parseImagePolicy } from '@initguard/image-policy'
import { rejectedCode } from '@initguard/testkit'
import { checkOciLayoutImage } from './oci-layout-image.ts'
import { computeDigest, OCI_MANIFEST_MEDIA_TYPE } from './oci-manifest.ts'

/** A layout holding one manifest named `v1`, its index.json written with `size` as given. */
function layout(size: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'initguard-layout-'))
  onTestFinished(() => {
    rmSync(dir, { recursive: true, force: true })
  })
  const manifest = new TextEncoder().encode('{"schemaVersion":2,"layers":[]}')
  const digest = computeDigest(manifest)
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true })
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), manifest)
  const descriptor = `{"mediaType":"${OCI_MANIFEST_MEDIA_TYPE}","digest":"${digest}","size":${size},"annotations":{"org.opencontainers.image.ref.name":"v1"}}`
  writeFileSync(join(dir, 'index.json'), `{"schemaVersion":2,"manifests":[${descriptor}]}`)
  return dir
}

describe('checkOciLayoutImage', () => {
  const policy = parseImagePolicy('{"default":[{"type":"insecureAcceptAnything"}]}')

  it('refuses an index.json whose size has a fraction or exponent, as containers/image does', async () => {
    const size = String('{"schemaVersion":2,"layers":[]}'.length)
    const accepted = await checkOciLayoutImage(`${layout(size)}:v1`, policy)
    expect(accepted.decision.accepted).toBe(true)
    expect(accepted.descriptor.size).toBe(Number(size))
    for (const literal of [`${size}.0`, `${size}e0`]) {
      expect(await rejectedCode(checkOciLayoutImage(`${layout(literal)}:v1`, policy))).toBe(
        'ERR_OCI_LAYOUT',
      )
    }
  })
})

/**
 * Helpers for the layer unpacker's tests: a scratch destination, a listing of what it holds,
 * and refusal checks.
 *
 * @module
 */
import {
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { expect, onTestFinished } from 'vitest'
import { isInitguardError } from '@initguard/core'

/** A scratch area: `dest` to unpack into, and a sentinel file beside it that must stay put. */
export function scratch(): { base: string; dest: string; sentinel: string } {
  const base = mkdtempSync(join(tmpdir(), 'initguard-layer-'))
  onTestFinished(() => {
    rmSync(base, { recursive: true, force: true })
  })
  const dest = join(base, 'rootfs')
  mkdirSync(dest)
  const sentinel = join(base, 'sentinel')
  writeFileSync(sentinel, 'untouched')
  return { base, dest, sentinel }
}

/** Every path under `dir` with its kind (and contents or target), sorted. */
export function tree(dir: string): string[] {
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

/** Expect `promise` to reject with an InitguardError of `code`; returns the error. */
export async function expectRefused(promise: Promise<unknown>, code: string): Promise<unknown> {
  const error: unknown = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  )
  expect(isInitguardError(error) ? error.code : error).toBe(code)
  return error
}

/** The OCI media type of an uncompressed layer. */
export const TAR = 'application/vnd.oci.image.layer.v1.tar'
/** The OCI media type of a gzip layer. */
export const GZIP = 'application/vnd.oci.image.layer.v1.tar+gzip'

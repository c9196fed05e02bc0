import {
  lstatSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ScratchDirectories } from '@initguard/testkit'
import { runInProcess } from './cli-test-support.ts'

const scratch = new ScratchDirectories()
afterAll(() => {
  scratch.removeAll()
})

// A manifest often carries a Secret beside the workload, so its owner keeps it private (0600).
const MANIFEST = [
  'apiVersion: v1',
  'kind: Secret',
  'metadata:',
  '  name: db',
  'stringData:',
  '  password: hunter2',
  '---',
  'apiVersion: v1',
  'kind: Pod',
  'metadata:',
  '  name: web',
  'spec:',
  '  containers: []',
  '',
].join('\n')

let dir: string
let doc: string

beforeAll(() => {
  dir = scratch.make('initguard-annotate-')
  doc = join(dir, 'initdata.toml')
  writeFileSync(doc, 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "x"\n')
})

function privateManifest(name: string): string {
  const path = join(dir, name)
  writeFileSync(path, MANIFEST, { mode: 0o600 })
  return path
}

/** Annotate `manifest` with the document, writing as `output` says; expect success. */
async function annotate(manifest: string, ...output: string[]): Promise<void> {
  const result = await runInProcess([
    'initdata',
    'annotate',
    manifest,
    '--initdata',
    doc,
    ...output,
  ])
  expect(result.code, result.stderr).toBe(0)
}

describe('initguard initdata annotate --in-place', () => {
  it('keeps the manifest private: the rewritten file has the mode of the one it replaces', async () => {
    const manifest = privateManifest('private.yaml')
    await annotate(manifest, '--in-place')
    expect(readFileSync(manifest, 'utf8')).toContain('cc_init_data: H4sI')
    expect(statSync(manifest).mode & 0o777).toBe(0o600)
  })

  it('edits the file a symbolic link points to and leaves the link in place', async () => {
    const target = privateManifest('target.yaml')
    const link = join(dir, 'link.yaml')
    symlinkSync('target.yaml', link)
    await annotate(link, '--in-place')
    expect(lstatSync(link).isSymbolicLink()).toBe(true)
    expect(readlinkSync(link)).toBe('target.yaml')
    expect(readFileSync(target, 'utf8')).toContain('cc_init_data: H4sI')
    expect(statSync(target).mode & 0o777).toBe(0o600)
  })

  it('keeps the mode of an existing -o file it overwrites', async () => {
    const manifest = privateManifest('source.yaml')
    const out = privateManifest('out.yaml')
    await annotate(manifest, '-o', out)
    expect(readFileSync(out, 'utf8')).toContain('cc_init_data: H4sI')
    expect(statSync(out).mode & 0o777).toBe(0o600)
  })
})

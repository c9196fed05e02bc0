/**
 * The init-data step end to end over a simulated guest: the runtime files (modes, contents, written
 * once), the in-memory store (copies), the TOCTOU guarantee (the source changed after the check is
 * never served nor written), and that nothing is written on any refusal.
 */
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import type { GuestTee } from '@initguard/tee'
import { rejected } from '@initguard/testkit'
import { establishInitdata } from './establish-initdata.ts'
import { temporaryGuestWorld } from './launched-guest-test-support.ts'
import { INITDATA_DOCUMENT_FILE, isSafeDataKey } from './verified-documents.ts'

const AA = '[token_configs.kbs]\nurl = "https://kbs.example:8080"\n'
const DOCUMENT = `version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = '''\n${AA}'''\n"cdh.toml" = "[kbc]\\n"\n`
const EVIL = DOCUMENT.replace('kbs.example', 'evil.example')

const world = temporaryGuestWorld('initguard-agent-establish-')
let counter = 0

/** A fresh document file and runtime directory path (not created). */
function paths(content: string | Uint8Array = DOCUMENT): { source: string; runtime: string } {
  counter++
  const source = join(world.dir, `initdata-${counter}.toml`)
  writeFileSync(source, content)
  return { source, runtime: join(world.dir, `run-${counter}`, 'initdata') }
}

const guest = (launchedWith = DOCUMENT): Promise<GuestTee> => world.guests.launch(launchedWith)

/** The honest document checked from a file, its runtime directory created by the check. */
async function establishedHonestly(): Promise<
  ReturnType<typeof paths> & { done: Awaited<ReturnType<typeof establishInitdata>> }
> {
  const { source, runtime } = paths()
  mkdirSync(join(runtime, '..'))
  const done = await establishInitdata({
    tee: await guest(),
    from: 'file',
    path: source,
    runtimeDir: runtime,
  })
  return { source, runtime, done }
}

const mode = (path: string): number => statSync(path).mode & 0o777

describe('establishInitdata', () => {
  it('writes the document and each [data] key once, 0600 in a 0700 directory', async () => {
    const { runtime, done } = await establishedHonestly()
    expect(done.documents.verified).toBe(true)
    expect(mode(runtime)).toBe(0o700)
    expect(readdirSync(runtime).sort()).toEqual(['aa.toml', 'cdh.toml', INITDATA_DOCUMENT_FILE])
    expect(readFileSync(join(runtime, INITDATA_DOCUMENT_FILE), 'utf8')).toBe(DOCUMENT)
    expect(readFileSync(join(runtime, 'aa.toml'), 'utf8')).toBe(AA)
    expect(readFileSync(join(runtime, 'cdh.toml'), 'utf8')).toBe('[kbc]\n')
    for (const name of readdirSync(runtime)) expect(mode(join(runtime, name))).toBe(0o600)
    expect(done.files?.data.get('aa.toml')).toBe(join(runtime, 'aa.toml'))
  })

  it('TOCTOU: a source changed after the check is never served nor written', async () => {
    const { source, runtime, done } = await establishedHonestly()
    writeFileSync(source, EVIL)
    expect(Buffer.from(done.documents.document()).toString()).toBe(DOCUMENT)
    expect(Buffer.from(done.documents.get('aa.toml') ?? []).toString()).toBe(AA)
    expect(readFileSync(join(runtime, INITDATA_DOCUMENT_FILE), 'utf8')).toBe(DOCUMENT)
    expect(readFileSync(join(runtime, 'aa.toml'), 'utf8')).toBe(AA)
    expect(done.initdata.text).toBe(DOCUMENT)
  })

  it('TOCTOU: an image device rewritten after the check is never served', async () => {
    const { source } = paths(buildInitdataImage(new TextEncoder().encode(DOCUMENT)))
    const done = await establishInitdata({ tee: await guest(), from: 'image', path: source })
    writeFileSync(source, buildInitdataImage(new TextEncoder().encode(EVIL)))
    expect(Buffer.from(done.documents.document()).toString()).toBe(DOCUMENT)
    expect(done.files).toBeUndefined()
  })

  it('the store hands out copies: changing one changes nothing served', async () => {
    const { source } = paths()
    const { documents } = await establishInitdata({
      tee: await guest(),
      from: 'file',
      path: source,
    })
    const copy = documents.get('aa.toml')
    copy?.fill(0x41)
    documents.document().fill(0x41)
    expect(Buffer.from(documents.get('aa.toml') ?? []).toString()).toBe(AA)
    expect(Buffer.from(documents.document()).toString()).toBe(DOCUMENT)
    expect(documents.get('policy.rego')).toBeUndefined()
    expect(documents.keys()).toEqual(['aa.toml', 'cdh.toml'])
  })

  it('an annotation source works the same', async () => {
    const { source } = paths(encodeAnnotation(new TextEncoder().encode(DOCUMENT)))
    const done = await establishInitdata({ tee: await guest(), from: 'annotation', path: source })
    expect(done.initdata.source.kind).toBe('annotation')
    expect(Buffer.from(done.documents.document()).toString()).toBe(DOCUMENT)
  })

  it('a mismatch writes nothing', async () => {
    const { source, runtime } = paths(EVIL)
    const error = await rejected(
      establishInitdata({ tee: await guest(), from: 'file', path: source, runtimeDir: runtime }),
    )
    expect(error.code).toBe('ERR_AGENT_INITDATA_MISMATCH')
    expect(existsSync(join(runtime, '..'))).toBe(false)
  })

  it.each(['../escape', '.hidden', 'a/b', 'initdata.toml', '', '-rf', 'x'.repeat(256)])(
    'a [data] key that is not a safe file name (%j) is refused, nothing written',
    async (key) => {
      const document = `version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n${JSON.stringify(key)} = "v"\n`
      const { source, runtime } = paths(document)
      const error = await rejected(
        establishInitdata({
          tee: await guest(document),
          from: 'file',
          path: source,
          runtimeDir: runtime,
        }),
      )
      expect(error.code).toBe('ERR_AGENT_DATA_KEY_UNSAFE')
      expect(error.category).toBe('malformed')
      expect(existsSync(join(runtime, '..'))).toBe(false)
      expect(isSafeDataKey(key)).toBe(false)
    },
  )

  it('a runtime directory that already holds files is refused, and left as it was', async () => {
    const { source, runtime } = paths()
    mkdirSync(runtime, { recursive: true, mode: 0o700 })
    writeFileSync(join(runtime, 'aa.toml'), 'stale')
    const error = await rejected(
      establishInitdata({ tee: await guest(), from: 'file', path: source, runtimeDir: runtime }),
    )
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR_NOT_EMPTY')
    expect(readdirSync(runtime)).toEqual(['aa.toml'])
  })

  it('a runtime directory open to others, or a symbolic link, is refused', async () => {
    const open = paths()
    mkdirSync(open.runtime, { recursive: true, mode: 0o755 })
    const error = await rejected(
      establishInitdata({
        tee: await guest(),
        from: 'file',
        path: open.source,
        runtimeDir: open.runtime,
      }),
    )
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR')
    const link = paths()
    mkdirSync(join(link.runtime, '..'))
    mkdirSync(`${link.runtime}-target`, { mode: 0o700 })
    symlinkSync(`${link.runtime}-target`, link.runtime)
    const linked = await rejected(
      establishInitdata({
        tee: await guest(),
        from: 'file',
        path: link.source,
        runtimeDir: link.runtime,
      }),
    )
    expect(linked.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(readdirSync(`${link.runtime}-target`)).toEqual([])
  })
})

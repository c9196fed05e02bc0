/**
 * The runtime directory: the unbound layout (never the verified one), all or nothing (a failure
 * midway leaves neither the directory nor the staging directory), an empty directory of ours
 * taken over, and the refusals with their codes (a directory of another user, a path that cannot
 * be inspected). The documents come from real checks against simulated guests.
 */
import {
  chmodSync,
  chownSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { rejected } from '@initguard/testkit'
import { ALLOW_UNBOUND_FLAG } from './check-initdata.ts'
import { establishInitdata } from './establish-initdata.ts'
import { temporaryGuestWorld } from './launched-guest-test-support.ts'
import { UNBOUND_DOCUMENTS_DIR, UNBOUND_MARKER_FILE, writeRuntimeFiles } from './runtime-files.ts'
import { INITDATA_DOCUMENT_FILE, type VerifiedDocuments } from './verified-documents.ts'

const AA = '[token_configs.kbs]\nurl = "https://kbs.example:8080"\n'
const withKeys = (...keys: string[]): string =>
  `version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n${keys.map((k) => `${JSON.stringify(k)} = ${JSON.stringify(k === 'aa.toml' ? AA : 'v')}\n`).join('')}`
const DOCUMENT = withKeys('aa.toml', 'cdh.toml')

const world = temporaryGuestWorld('initguard-agent-runtime-')
let counter = 0

/** `document` checked against a guest launched with it (or without init-data, when `bare`). */
async function established(
  document = DOCUMENT,
  options: { bare?: boolean; runtimeDir?: string } = {},
): Promise<Awaited<ReturnType<typeof establishInitdata>>> {
  const source = join(world.dir, `initdata-${++counter}.toml`)
  writeFileSync(source, document)
  return establishInitdata({
    tee:
      options.bare === true ? await world.guests.launchBare() : await world.guests.launch(document),
    from: 'file',
    path: source,
    allowUnbound: options.bare === true,
    ...(options.runtimeDir === undefined ? {} : { runtimeDir: options.runtimeDir }),
  })
}

const verifiedDocuments = async (document = DOCUMENT): Promise<VerifiedDocuments> =>
  (await established(document)).documents

/** A new, not yet existing runtime directory path in a new parent. */
function runtimePath(): { parent: string; runtime: string } {
  const parent = join(world.dir, `parent-${++counter}`)
  return { parent, runtime: join(parent, 'initdata') }
}

const mode = (path: string): number => statSync(path).mode & 0o777

describe('writeRuntimeFiles: unbound', () => {
  it('writes the UNBOUND marker and the documents under unbound/, never the verified layout', async () => {
    const { runtime } = runtimePath()
    const done = await established(DOCUMENT, { bare: true, runtimeDir: runtime })
    expect(done.documents.verified).toBe(false)
    expect(readdirSync(runtime).sort()).toEqual([UNBOUND_MARKER_FILE, UNBOUND_DOCUMENTS_DIR])
    expect(existsSync(join(runtime, INITDATA_DOCUMENT_FILE))).toBe(false)
    expect(existsSync(join(runtime, 'aa.toml'))).toBe(false)
    expect(readFileSync(join(runtime, UNBOUND_MARKER_FILE), 'utf8')).toContain(ALLOW_UNBOUND_FLAG)
    const unbound = join(runtime, UNBOUND_DOCUMENTS_DIR)
    expect(mode(unbound)).toBe(0o700)
    expect(readdirSync(unbound).sort()).toEqual(['aa.toml', 'cdh.toml', INITDATA_DOCUMENT_FILE])
    expect(readFileSync(join(unbound, 'aa.toml'), 'utf8')).toBe(AA)
    for (const name of readdirSync(unbound)) expect(mode(join(unbound, name))).toBe(0o600)
    expect(mode(join(runtime, UNBOUND_MARKER_FILE))).toBe(0o600)
    expect(done.files).toMatchObject({
      verified: false,
      document: join(unbound, INITDATA_DOCUMENT_FILE),
    })
    expect(done.files?.data.get('aa.toml')).toBe(join(unbound, 'aa.toml'))
  })

  it('a verified document keeps the flat layout, and says so', async () => {
    const { runtime } = runtimePath()
    const files = await writeRuntimeFiles(runtime, await verifiedDocuments())
    expect(files.verified).toBe(true)
    expect(readdirSync(runtime).sort()).toEqual(['aa.toml', 'cdh.toml', INITDATA_DOCUMENT_FILE])
  })
})

describe('writeRuntimeFiles: all or nothing', () => {
  it('a failure midway leaves no runtime directory and no staging directory', async () => {
    // A real limit, not an injected fault: the staging path and initdata.toml in it fit in
    // PATH_MAX (4096), the path of the long [data] key written after them does not.
    const parent = deepDirectory(3950)
    const runtime = join(parent, 'initdata')
    const documents = await verifiedDocuments(withKeys('aa.toml', 'k'.repeat(200)))
    const error = await rejected(writeRuntimeFiles(runtime, documents))
    expect(error.code).toBe('ERR_FILE_WRITE')
    expect(error.message).toContain('k'.repeat(200))
    expect(readdirSync(parent)).toEqual([])
  })

  it('a [data] key of 255 characters (the longest name allowed) is written', async () => {
    const { runtime } = runtimePath()
    const key = 'k'.repeat(255)
    const files = await writeRuntimeFiles(runtime, await verifiedDocuments(withKeys(key)))
    expect(readFileSync(join(runtime, key), 'utf8')).toBe('v')
    expect(files.data.get(key)).toBe(join(runtime, key))
  })

  it('an empty 0700 directory of ours is taken over; nothing else is left beside it', async () => {
    const { parent, runtime } = runtimePath()
    mkdirSync(runtime, { recursive: true, mode: 0o700 })
    await writeRuntimeFiles(runtime, await verifiedDocuments())
    expect(readdirSync(parent)).toEqual(['initdata'])
    expect(mode(runtime)).toBe(0o700)
    expect(readFileSync(join(runtime, 'aa.toml'), 'utf8')).toBe(AA)
  })

  it('a directory that holds anything is refused, left as it was, no staging left', async () => {
    const { parent, runtime } = runtimePath()
    mkdirSync(runtime, { recursive: true, mode: 0o700 })
    writeFileSync(join(runtime, 'aa.toml'), 'stale')
    const error = await rejected(writeRuntimeFiles(runtime, await verifiedDocuments()))
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR_NOT_EMPTY')
    expect(error.details['entries']).toEqual(['aa.toml'])
    expect(readdirSync(parent)).toEqual(['initdata'])
    expect(readdirSync(runtime)).toEqual(['aa.toml'])
  })
})

describe('writeRuntimeFiles: a restarted agent', () => {
  it('takes the directory it wrote for the same documents as it is, verified or unbound', async () => {
    for (const bare of [false, true]) {
      const { runtime } = runtimePath()
      const first = await established(DOCUMENT, { bare, runtimeDir: runtime })
      const before = tree(runtime)
      const again = await established(DOCUMENT, { bare, runtimeDir: runtime })
      expect(again.files).toEqual(first.files)
      expect(tree(runtime)).toEqual(before) // same inodes, nothing rewritten
    }
  })

  it('anything but exactly that is refused and left as it was', async () => {
    const changes: Record<string, (runtime: string) => void> = {
      'one byte': (r) => {
        writeFileSync(join(r, 'aa.toml'), AA.replace('8080', '8081'))
      },
      'a mode': (r) => {
        chmodSync(join(r, 'cdh.toml'), 0o644)
      },
      'the directory mode': (r) => {
        chmodSync(r, 0o500)
      },
      'an extra file': (r) => {
        writeFileSync(join(r, 'policy.rego'), 'package x', { mode: 0o600 })
      },
      'a missing file': (r) => {
        rmSync(join(r, 'cdh.toml'))
      },
      'a symbolic link to the same bytes': (r) => {
        renameSync(join(r, 'aa.toml'), join(r, '..', 'aa.toml'))
        symlinkSync(join(r, '..', 'aa.toml'), join(r, 'aa.toml'))
      },
      'a second link': (r) => {
        linkSync(join(r, 'aa.toml'), join(r, '..', 'aa.toml'))
      },
    }
    for (const [what, change] of Object.entries(changes)) {
      const { runtime } = runtimePath()
      await established(DOCUMENT, { runtimeDir: runtime })
      change(runtime)
      const before = tree(runtime)
      const error = await rejected(established(DOCUMENT, { runtimeDir: runtime })).catch(
        (thrown: unknown) => {
          throw new Error(`${what}: ${String(thrown)}`)
        },
      )
      expect(error.code, what).toMatch(/^ERR_AGENT_RUNTIME_DIR(_NOT_EMPTY)?$/)
      expect(tree(runtime), what).toEqual(before)
    }
  })

  it('another document, or the other layout, is refused', async () => {
    const { runtime } = runtimePath()
    await established(DOCUMENT, { runtimeDir: runtime })
    const before = tree(runtime)
    const other = await rejected(established(withKeys('aa.toml'), { runtimeDir: runtime }))
    expect(other.code).toBe('ERR_AGENT_RUNTIME_DIR_NOT_EMPTY')
    const unbound = await rejected(established(DOCUMENT, { bare: true, runtimeDir: runtime }))
    expect(unbound.code).toBe('ERR_AGENT_RUNTIME_DIR_NOT_EMPTY')
    expect(tree(runtime)).toEqual(before)
  })
})

/** Every entry under `dir`: its path, inode, mode and bytes (for "left as it was"). */
function tree(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .sort()
    .map((name) => {
      const path = join(dir, name)
      const info = lstatSync(path)
      const bytes = info.isFile() ? readFileSync(path).toString('hex') : ''
      return `${name} ${String(info.ino)} ${(info.mode & 0o7777).toString(8)} ${bytes}`
    })
}

describe('writeRuntimeFiles: refusals are coded', () => {
  it('a runtime directory another user could rename away and replace is refused, nothing written', async () => {
    // A reader of DIR reads whatever anyone who may write DIR's parent put in its place.
    const { parent, runtime } = runtimePath()
    mkdirSync(parent, { mode: 0o777 })
    chmodSync(parent, 0o777)
    const error = await rejected(writeRuntimeFiles(runtime, await verifiedDocuments()))
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(error.message).toContain(`${parent} is writable by group or others (mode 777)`)
    expect(readdirSync(parent)).toEqual([])
    const deeper = await rejected(
      writeRuntimeFiles(join(parent, 'a', 'initdata'), await verifiedDocuments()),
    )
    expect(deeper.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(readdirSync(parent)).toEqual([]) // no parent made either
    // Sticky (as /tmp): nobody else may rename or remove what the agent made there.
    chmodSync(parent, 0o1777)
    await writeRuntimeFiles(runtime, await verifiedDocuments())
    expect(readdirSync(runtime).sort()).toEqual(['aa.toml', 'cdh.toml', INITDATA_DOCUMENT_FILE])
  })

  it('a directory owned by another user is refused (ERR_AGENT_RUNTIME_DIR), nothing written', async () => {
    // As root, a 0700 directory given to another uid; otherwise "/", which is root's.
    let foreign = '/'
    if (process.getuid?.() === 0) {
      foreign = runtimePath().runtime
      mkdirSync(foreign, { recursive: true, mode: 0o700 })
      chownSync(foreign, 4242, 4242)
    }
    const error = await rejected(writeRuntimeFiles(foreign, await verifiedDocuments()))
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(error.message).toContain('owned by uid')
    if (foreign !== '/') expect(readdirSync(join(foreign, '..'))).toEqual(['initdata'])
    if (foreign !== '/') expect(readdirSync(foreign)).toEqual([])
  })

  it('a path that cannot be inspected is a coded local error naming it (exit 7), not a bug', async () => {
    const { parent } = runtimePath()
    const runtime = join(parent, 'n'.repeat(300)) // lstat: ENAMETOOLONG
    const error = await rejected(writeRuntimeFiles(runtime, await verifiedDocuments()))
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(error.category).toBe('io')
    expect(error.message).toContain(runtime)
    expect(error.hint).toContain('--runtime-dir')
  })
})

/** A new empty directory whose absolute path is `length` characters long. */
function deepDirectory(length: number): string {
  let path = mkdtempSync(join(world.dir, 'deep-'))
  while (path.length < length) {
    const room = length - path.length - 1
    path = join(path, 'd'.repeat(Math.min(200, Math.max(1, room))))
  }
  mkdirSync(path, { recursive: true })
  return path
}

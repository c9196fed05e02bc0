/**
 * The window between the trusted-path check and the use of the path: the check passes over a
 * directory that does not exist yet ("whoever makes it owns it"), so another user who makes it
 * first, in a sticky parent such as /tmp, would own a directory on the way to the runtime
 * directory, the socket or the checked copy. A seam runs "the other user" right after the first
 * check returns (deterministic, no real race): the path must be checked again once it exists.
 *
 * Two stand-ins for the other user's directory: owned by uid 4242 (needs root, for chown), and,
 * as any user, one of ours left open to others (mode 777, not sticky), which the check refuses the
 * same way. Both are refused only by a check after the directories exist.
 */
import type * as TrustedPath from './trusted-path.ts'
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest'
import { rejected } from '@initguard/testkit'
import { checkCopyTarget } from './initdata-check/checked-copy.ts'
import { establishInitdata } from './initdata-check/establish-initdata.ts'
import { temporaryGuestWorld } from './initdata-check/launched-guest-test-support.ts'
import { writeRuntimeFiles } from './initdata-check/runtime-files.ts'
import type { VerifiedDocuments } from './initdata-check/verified-documents.ts'
import { listenUnix } from './guest-api-socket.ts'

/** What "the other user" does right after the next check returns (once). */
const afterCheck = vi.hoisted(() => ({ run: undefined as (() => void) | undefined }))

vi.mock('./trusted-path.ts', async (importOriginal) => {
  const real = await importOriginal<typeof TrustedPath>()
  return {
    ...real,
    replaceableBy: async (path: string) => {
      const found = await real.replaceableBy(path)
      const run = afterCheck.run
      afterCheck.run = undefined
      run?.()
      return found
    },
  }
})

afterEach(() => {
  afterCheck.run = undefined
})

const world = temporaryGuestWorld('initguard-trusted-window-')
const base = mkdtempSync(join(tmpdir(), 'initguard-trusted-window-base-'))
afterAll(() => {
  rmSync(base, { recursive: true, force: true })
})
let count = 0
/** A new sticky shared directory, as /tmp. */
function sticky(): string {
  const dir = join(base, `tmp${String(++count)}`)
  mkdirSync(dir)
  chmodSync(dir, 0o1777)
  return dir
}

const isRoot = process.getuid?.() === 0
interface OtherUser {
  readonly name: string
  readonly make: (dir: string) => void
  /** What the refusal names. */
  readonly refusal: (dir: string) => string
}
const OTHER_USERS: readonly OtherUser[] = [
  ...(isRoot
    ? [
        {
          name: 'a directory of uid 4242',
          make: (dir: string) => {
            mkdirSync(dir, { mode: 0o700 })
            chownSync(dir, 4242, 4242)
          },
          refusal: (dir: string) => `${dir} belongs to uid 4242`,
        },
      ]
    : []),
  {
    name: 'a directory open to others (mode 777)',
    make: (dir: string) => {
      mkdirSync(dir)
      chmodSync(dir, 0o777)
    },
    refusal: (dir: string) => `${dir} is writable by group or others (mode 777)`,
  },
]

const DOCUMENT = 'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "x"\n'

/** The documents of a real check against a simulated guest. */
async function verifiedDocuments(): Promise<VerifiedDocuments> {
  const path = join(world.dir, `initdata-${String(++count)}.toml`)
  writeFileSync(path, DOCUMENT)
  const tee = await world.guests.launch(DOCUMENT)
  return (await establishInitdata({ tee, from: 'file', path, allowUnbound: false })).documents
}

describe.each(OTHER_USERS)('made between the check and its use: $name', (other) => {
  it('agent start --runtime-dir: a missing parent made by another user is refused', async () => {
    const shared = sticky()
    const theirs = join(shared, 'a')
    const runtime = join(theirs, 'b', 'initdata')
    const documents = await verifiedDocuments()
    afterCheck.run = () => {
      other.make(theirs)
    }
    const error = await rejected(writeRuntimeFiles(runtime, documents))
    expect(error.code).toBe('ERR_AGENT_RUNTIME_DIR')
    expect(error.message).toContain(other.refusal(theirs))
    expect(existsSync(runtime)).toBe(false) // nothing written
  })

  it('agent start --runtime-dir: the parents the agent makes are its own, 0700', async () => {
    const shared = sticky()
    const runtime = join(shared, 'a', 'b', 'initdata')
    const documents = await verifiedDocuments()
    await writeRuntimeFiles(runtime, documents)
    for (const made of [join(shared, 'a'), join(shared, 'a', 'b')]) {
      expect(lstatSync(made).mode & 0o7777).toBe(0o700)
      expect(lstatSync(made).uid).toBe(process.getuid?.())
    }
  })

  it('agent start --socket: a missing directory made by another user is refused', async () => {
    const theirs = join(sticky(), 's')
    const socket = join(theirs, 'agent.sock')
    afterCheck.run = () => {
      other.make(theirs)
    }
    const server = createServer()
    const error = await rejected(listenUnix(socket, server, () => undefined))
    expect(error.code).toBe('ERR_AGENT_SOCKET')
    expect(error.message).toContain(other.refusal(theirs))
    expect(server.listening).toBe(false)
    expect(existsSync(socket)).toBe(false) // closed and removed
  })

  it('agent check-initdata --out: a missing directory made by another user is refused', async () => {
    const theirs = join(sticky(), 'out')
    afterCheck.run = () => {
      other.make(theirs)
    }
    const error = await rejected(checkCopyTarget(join(theirs, 'initdata.toml')))
    expect(error.code).toBe('ERR_AGENT_CHECKED_COPY')
    expect(error.message).toContain(other.refusal(theirs))
  })
})

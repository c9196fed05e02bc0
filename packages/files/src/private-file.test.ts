/**
 * Private key files: refused when group or others may read or write them, or another user owns
 * them, by the one check the master key file and the TLS private key file share.
 */
import { execFileSync } from 'node:child_process'
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { LocalIoError } from '@initguard/core'
import { readInput } from './local-files.ts'
import { refuseSharedPrivateFile } from './private-file.ts'

/** The LocalIoError `run` throws (this package's tests do not use the testkit). */
function thrown(run: () => unknown): LocalIoError {
  try {
    run()
  } catch (error) {
    if (error instanceof LocalIoError) return error
    throw error
  }
  throw new Error('expected a LocalIoError, nothing was thrown')
}

/** The LocalIoError `promise` rejects with. */
async function rejected(promise: Promise<unknown>): Promise<LocalIoError> {
  return promise.then(
    () => {
      throw new Error('expected a LocalIoError, the promise resolved')
    },
    (error: unknown) => {
      if (error instanceof LocalIoError) return error
      throw error
    },
  )
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'initguard-private-file-'))
})
afterAll(() => rm(dir, { recursive: true, force: true }))
afterEach(() => {
  vi.restoreAllMocks()
})

describe('refuseSharedPrivateFile', () => {
  it('takes an owner-only file of this user, read-write or read-only', () => {
    for (const mode of [0o100600, 0o100400, 0o100200, 0o100700, 0o100000])
      expect(() => {
        refuseSharedPrivateFile({ mode, uid: 7 }, '/k', 'key file', 'ERR_X', 7)
      }).not.toThrow()
  })

  it('refuses any group or other bit, naming the file, its mode and the fix', () => {
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644, 0o666, 0o440]) {
      const error = thrown(() => {
        refuseSharedPrivateFile({ mode: 0o100000 | mode, uid: 7 }, '/k', 'key file', 'ERR_X', 7)
      })
      expect([mode.toString(8), error.code, error.category]).toEqual([
        mode.toString(8),
        'ERR_X',
        'io',
      ])
      expect(error.message).toBe(
        `the key file /k is accessible to group or others (mode ${mode.toString(8)})`,
      )
      expect(error.hint).toBe('run chmod 600 /k (and consider the key exposed)')
    }
  })

  it("refuses another user's file, also when this process is root; without a uid, only the mode", () => {
    for (const [owner, uid] of [
      [0, 10001],
      [10001, 0],
      [1000, 1001],
    ] as const) {
      const error = thrown(() => {
        refuseSharedPrivateFile({ mode: 0o100400, uid: owner }, '/k', 'key file', 'ERR_X', uid)
      })
      expect(error.code).toBe('ERR_X')
      expect(error.message).toBe(
        `the key file /k is owned by another user (uid ${String(owner)}), not by the user this process runs as (uid ${String(uid)})`,
      )
      expect(error.hint).toContain(`chown ${String(uid)} /k`)
    }
    // Windows has no process.getuid: the owner is not compared.
    expect(() => {
      refuseSharedPrivateFile({ mode: 0o100600, uid: 0 }, '/k', 'key file', 'ERR_X', undefined)
    }).not.toThrow()
  })
})

describe('readInput with privateCode', () => {
  it('checks the file it opened: mode, then owner; takes an owner-only file', async () => {
    const file = join(dir, 'key.pem')
    await writeFile(file, 'key', { mode: 0o600 })
    const read = (): Promise<Uint8Array> =>
      readInput(file, { what: 'test key file', privateCode: 'ERR_TEST_KEY_MODE' })
    expect(new TextDecoder().decode(await read())).toBe('key')
    await chmod(file, 0o640)
    const open = await rejected(read())
    expect([open.code, open.message]).toEqual([
      'ERR_TEST_KEY_MODE',
      `the test key file ${file} is accessible to group or others (mode 640)`,
    ])
    await chmod(file, 0o400)
    expect(new TextDecoder().decode(await read())).toBe('key')
    // As seen by a process running as another user than the file's owner.
    const owner = process.getuid?.() ?? 0
    vi.spyOn(process, 'getuid').mockReturnValue(owner + 1)
    const other = await rejected(read())
    expect(other.code).toBe('ERR_TEST_KEY_MODE')
    expect(other.message).toContain(`is owned by another user (uid ${String(owner)})`)
  })

  it("refuses a file that is not a regular one (a FIFO, /dev/stdin on a pipe): its mode is not the key's", async () => {
    const fifo = join(dir, 'key.fifo')
    execFileSync('mkfifo', ['-m', '600', fifo])
    // The writer's open waits for the reader's; it fails once the reader has gone, unread.
    const writer = writeFile(fifo, 'key').catch(() => undefined)
    const error = await rejected(
      readInput(fifo, { what: 'test key file', privateCode: 'ERR_TEST_KEY_MODE' }),
    )
    await writer
    expect([error.code, error.message]).toEqual([
      'ERR_TEST_KEY_MODE',
      `the test key file ${fifo} is not a regular file, whose mode and owner say who may read it`,
    ])
  })

  it('refuses standard input, which has no mode or owner to check', async () => {
    const error = await rejected(
      readInput('-', { what: 'test key file', privateCode: 'ERR_TEST_KEY_MODE' }),
    )
    expect(error.code).toBe('ERR_TEST_KEY_MODE')
    expect(error.message).toContain('cannot be read from standard input')
    expect(error.hint).toContain('give the path of the test key file')
  })
})

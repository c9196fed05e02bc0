/**
 * Test support for the store: temporary data directories (removed after the test) and opened
 * stores on them (closed after the test).
 *
 * @module
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { onTestFinished } from 'vitest'
import { openKbsStore } from './open-store.ts'
import type { OpenKbsStoreOptions, SqlKbsStore } from './open-store.ts'

/** A fresh directory (mode 0700) for one test. */
export async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'initguard-kbs-store-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** A random 32-byte master key. */
export function randomMasterKey(): Uint8Array {
  return new Uint8Array(randomBytes(32))
}

/** A store opened for one test, closed when it ends. */
export async function openTestStore(
  options: Partial<OpenKbsStoreOptions> & Pick<OpenKbsStoreOptions, 'dataDir' | 'masterKey'>,
): Promise<SqlKbsStore> {
  const store = await openKbsStore(options)
  onTestFinished(() => store.close())
  return store
}

/** A directory, a key, and two handles on the same database (two replicas). */
export async function twoHandles(): Promise<{
  readonly first: SqlKbsStore
  readonly second: SqlKbsStore
}> {
  const dataDir = await temporaryDir()
  const masterKey = randomMasterKey()
  const first = await openTestStore({ dataDir, masterKey })
  const second = await openTestStore({ dataDir, masterKey })
  return { first, second }
}

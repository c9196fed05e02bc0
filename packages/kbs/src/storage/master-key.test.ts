import { chmod, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { loadMasterKey } from './master-key.ts'
import { openKbsStore } from './open-store.ts'
import { temporaryDir } from './store-test-support.ts'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('loadMasterKey', () => {
  it('generates 32 random bytes into <dataDir>/master.key (0600) on first run, then reads them', async () => {
    const dataDir = join(await temporaryDir(), 'data')
    const first = await loadMasterKey({ dataDir })
    expect(first.source).toBe('generated')
    expect(first.key).toHaveLength(32)
    const path = join(dataDir, 'master.key')
    expect(first.path).toBe(path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(dataDir)).mode & 0o777).toBe(0o700)
    expect(new Uint8Array(await readFile(path))).toEqual(first.key)
    const again = await loadMasterKey({ dataDir })
    expect(again.source).toBe('file')
    expect(again.key).toEqual(first.key)
  })

  it('has concurrent first runs agree on one key (the file is created exclusively)', async () => {
    const dataDir = await temporaryDir()
    const keys = await Promise.all([1, 2, 3, 4].map(() => loadMasterKey({ dataDir })))
    expect(keys.filter((k) => k.source === 'generated')).toHaveLength(1)
    for (const k of keys) expect(k.key).toEqual(keys[0]?.key)
  })

  it('reads a given file as raw bytes, hex or base64 text', async () => {
    const dir = await temporaryDir()
    const key = new Uint8Array(32).map((_, i) => i)
    const forms = {
      raw: key,
      hex: `${Buffer.from(key).toString('hex')}\n`,
      base64: `  ${Buffer.from(key).toString('base64')}\n`,
    }
    for (const [name, content] of Object.entries(forms)) {
      const file = join(dir, name)
      await writeFile(file, content, { mode: 0o600 })
      expect((await loadMasterKey({ dataDir: dir, file })).key).toEqual(key)
    }
  })

  it('reads an environment value (hex or base64) and refuses a bad one', async () => {
    const dataDir = await temporaryDir()
    const key = new Uint8Array(32).fill(7)
    expect((await loadMasterKey({ dataDir, env: Buffer.from(key).toString('hex') })).key).toEqual(
      key,
    )
    expect(
      (await loadMasterKey({ dataDir, env: Buffer.from(key).toString('base64') })).source,
    ).toBe('env')
    const short = await rejected(
      loadMasterKey({ dataDir, env: 'ab'.repeat(31), envName: 'KBS_MASTER_KEY' }),
    )
    expect(short.code).toBe('ERR_KBS_MASTER_KEY_FORMAT')
    expect(short.message).toContain('KBS_MASTER_KEY')
    expect(short.message).toContain('31 bytes')
    expect(await rejectedCode(loadMasterKey({ dataDir, env: 'not a key!' }))).toBe(
      'ERR_KBS_MASTER_KEY_FORMAT',
    )
  })

  it('refuses a key file open to group or others, naming the path', async () => {
    const dir = await temporaryDir()
    const file = join(dir, 'key')
    await writeFile(file, new Uint8Array(32), { mode: 0o600 })
    for (const mode of [0o640, 0o604, 0o660]) {
      await chmod(file, mode)
      const error = await rejected(loadMasterKey({ dataDir: dir, file }))
      expect(error.code).toBe('ERR_KBS_MASTER_KEY_MODE')
      expect(error.category).toBe('io')
      expect(error.message).toBe(
        `the master key file ${file} is accessible to group or others (mode ${mode.toString(8)})`,
      )
      expect(error.hint).toBe(`run chmod 600 ${file} (and consider the key exposed)`)
    }
  })

  it('refuses a key file another user owns, as the TLS private key file', async () => {
    const dir = await temporaryDir()
    const file = join(dir, 'key')
    await writeFile(file, new Uint8Array(32).fill(1), { mode: 0o400 })
    expect((await loadMasterKey({ dataDir: dir, file })).source).toBe('file')
    // As a process running as another user than the file's owner sees it.
    const owner = process.getuid?.() ?? 0
    vi.spyOn(process, 'getuid').mockReturnValue(owner + 1)
    const error = await rejected(loadMasterKey({ dataDir: dir, file }))
    expect([error.code, error.category]).toEqual(['ERR_KBS_MASTER_KEY_MODE', 'io'])
    expect(error.message).toBe(
      `the master key file ${file} is owned by another user (uid ${String(owner)}), not by the user this process runs as (uid ${String(owner + 1)})`,
    )
    expect(error.hint).toContain(`chown ${String(owner + 1)} ${file}`)
  })

  it('refuses a generated key file whose mode was opened up', async () => {
    const dataDir = await temporaryDir()
    await loadMasterKey({ dataDir })
    await chmod(join(dataDir, 'master.key'), 0o644)
    expect(await rejectedCode(loadMasterKey({ dataDir }))).toBe('ERR_KBS_MASTER_KEY_MODE')
  })

  it('refuses a wrong length or bad encoding in a file, naming the path', async () => {
    const dir = await temporaryDir()
    for (const [name, content] of [
      ['short', new Uint8Array(31)],
      ['long', new Uint8Array(33)],
      ['hex-short', 'ab'.repeat(16)],
      ['garbage', 'this is not a key, not at all, honestly'],
      ['empty', ''],
    ] as const) {
      const file = join(dir, name)
      await writeFile(file, content, { mode: 0o600 })
      const error = await rejected(loadMasterKey({ dataDir: dir, file }))
      expect(error.code, name).toBe('ERR_KBS_MASTER_KEY_FORMAT')
      expect(error.message).toContain(file)
    }
  })

  it('does not generate a new key beside a database whose key file is gone', async () => {
    const dataDir = await temporaryDir()
    const { key } = await loadMasterKey({ dataDir })
    await (await openKbsStore({ dataDir, masterKey: key })).close()
    await rm(join(dataDir, 'master.key'))
    const error = await rejected(loadMasterKey({ dataDir }))
    expect(error.code).toBe('ERR_KBS_MASTER_KEY_MISSING')
    expect(error.message).toContain(join(dataDir, 'master.key'))
  })

  it('refuses a missing file and two sources at once', async () => {
    const dataDir = await temporaryDir()
    const missing = await rejected(loadMasterKey({ dataDir, file: join(dataDir, 'nope') }))
    expect(missing.code).toBe('ERR_KBS_MASTER_KEY_READ')
    expect(missing.message).toContain('nope')
    expect(await rejectedCode(loadMasterKey({ dataDir, file: 'x', env: 'y' }))).toBe(
      'ERR_KBS_MASTER_KEY_SOURCES',
    )
  })
})

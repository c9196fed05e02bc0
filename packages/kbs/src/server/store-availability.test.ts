/**
 * The database's unavailability as the KBS reports it, on real failures: a refused connection, an
 * SQLite file another process holds locked (a real store and the real app), a call that never
 * answers; and errors that mean something else pass through untouched.
 */
import { createServer, connect } from 'node:net'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { rejected, rejectedCode } from '@initguard/testkit'
import { SQLITE_FILE_NAME } from '../storage/dialect.ts'
import { openTestStore, randomMasterKey, temporaryDir } from '../storage/store-test-support.ts'
import { createKbsServices } from '../service/kbs-services.ts'
import { testAdminKey, testAdminToken } from './admin-auth-test-support.ts'
import { buildKbsApp } from './app.ts'
import { resolveKbsServerConfig } from './config.ts'
import {
  guardStoreAvailability,
  isDatabaseUnavailable,
  sharedCheck,
  withStoreDeadline,
} from './store-availability.ts'

const cleanups: (() => unknown)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

/** The error of connecting to a loopback port nobody listens on. */
async function refusedConnection(): Promise<Error> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return new Promise((resolve) => {
    connect(port, '127.0.0.1').on('error', (error) => {
      resolve(error)
    })
  })
}

/** Another process's exclusive lock on the store's SQLite file, released by the returned function. */
function lockDatabase(dataDir: string): () => void {
  const other = new BetterSqlite3(join(dataDir, SQLITE_FILE_NAME))
  other.exec('BEGIN EXCLUSIVE')
  return () => {
    other.exec('ROLLBACK')
    other.close()
  }
}

describe('isDatabaseUnavailable', () => {
  it('says yes to a refused connection and a busy SQLite file, no to a broken constraint', async () => {
    expect(isDatabaseUnavailable(await refusedConnection())).toBe(true)
    const dataDir = await temporaryDir()
    const store = await openTestStore({ dataDir, masterKey: randomMasterKey(), busyTimeoutMs: 0 })
    const release = lockDatabase(dataDir)
    cleanups.push(release)
    const busy = await store.resources.put('a/b/c', new Uint8Array([1]), new Date()).then(
      () => undefined,
      (error: unknown) => error,
    )
    expect((busy as { code?: unknown }).code).toBe('SQLITE_BUSY')
    expect(isDatabaseUnavailable(busy)).toBe(true)
    const database = new BetterSqlite3(':memory:')
    database.exec('CREATE TABLE t (k TEXT PRIMARY KEY); INSERT INTO t VALUES (1)')
    let constraint: unknown
    try {
      database.exec('INSERT INTO t VALUES (1)')
    } catch (error) {
      constraint = error
    }
    expect(isDatabaseUnavailable(constraint)).toBe(false)
    expect(isDatabaseUnavailable(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code: '57P01' }))).toBe(true)
    expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code: '23505' }))).toBe(false)
    for (const code of ['08000', '08001', '08003', '08004', '08006'])
      expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code })), code).toBe(true)
    // A protocol violation is a bug on one side, not an outage: a 500, not a 503 to retry.
    for (const code of ['08P01', '08007'])
      expect(isDatabaseUnavailable(Object.assign(new Error('x'), { code })), code).toBe(false)
    expect(isDatabaseUnavailable('ECONNREFUSED')).toBe(false)
  })
})

describe('withStoreDeadline', () => {
  it('answers 503-class errors for a call that never returns and for an unreachable database', async () => {
    const started = Date.now()
    expect(await rejectedCode(withStoreDeadline(new Promise(() => undefined), 100))).toBe(
      'ERR_KBS_STORE_TIMEOUT',
    )
    expect(Date.now() - started).toBeLessThan(1000)
    const unreachable = await rejected(
      withStoreDeadline(Promise.reject(await refusedConnection()), 1000),
    )
    expect([unreachable.code, unreachable.category]).toEqual([
      'ERR_KBS_STORE_UNAVAILABLE',
      'unavailable',
    ])
    const other = new Error('a bug')
    await expect(withStoreDeadline(Promise.reject(other), 1000)).rejects.toBe(other)
  })
})

describe('a KBS whose database is locked by another process', () => {
  it('answers 503 with Retry-After while locked, and works again once the lock is gone', async () => {
    const dataDir = join(await temporaryDir(), 'data')
    const config = resolveKbsServerConfig({
      dataDir,
      listen: '127.0.0.1:0',
      adminPublicKey: ['admin.pub'],
      insecureHttp: true,
    })
    const services = await createKbsServices(config, { online: false })
    cleanups.push(() => services.store.close())
    const admin = testAdminKey('EdDSA')
    const app = await buildKbsApp({
      ...services,
      adminKeys: [admin.admin],
      config,
      logger: { level: 'silent' },
      clock: () => new Date(),
    })
    cleanups.push(() => app.close())
    const put = async (): Promise<{ status: number; retryAfter: unknown; body: unknown }> => {
      const response = await app.inject({
        method: 'POST',
        url: '/kbs/v0/resource/default/app/key',
        headers: { authorization: `Bearer ${await testAdminToken(admin, new Date())}` },
        body: Buffer.from('value'),
      })
      return {
        status: response.statusCode,
        retryAfter: response.headers['retry-after'],
        body: response.body === '' ? undefined : response.json(),
      }
    }
    const release = lockDatabase(dataDir)
    // The KBS waits the busy timeout (5 s by default), then gives up with a 503.
    const locked = await put()
    expect(locked.status).toBe(503)
    expect(locked.retryAfter).toBe('1')
    expect(locked.body).toMatchObject({
      type: 'https://github.com/confidential-containers/kbs/errors/ServiceUnavailable',
      detail: expect.stringMatching(/database cannot be reached now \(SQLITE_BUSY\)/) as unknown,
    })
    release()
    // SQLite's busy wait held the event loop, so the KBS sheds load (503) until it has measured
    // a calm loop again: it recovers by itself within a few seconds.
    let after = await put()
    for (const start = Date.now(); after.status === 503 && Date.now() - start < 5000;) {
      await new Promise((resolve) => setTimeout(resolve, 200))
      after = await put()
    }
    expect(after.status).toBe(200)
    expect((await services.store.resources.list()).map((r) => r.path)).toEqual(['default/app/key'])
  })
})

describe('guardStoreAvailability', () => {
  it('bounds every store call and passes results through', async () => {
    const dataDir = await temporaryDir()
    const store = guardStoreAvailability(
      await openTestStore({ dataDir, masterKey: randomMasterKey(), busyTimeoutMs: 0 }),
      1000,
    )
    await store.resources.put('a/b/c', new Uint8Array([7]), new Date())
    expect(await store.resources.get('a/b/c')).toEqual(new Uint8Array([7]))
    const release = lockDatabase(dataDir)
    cleanups.push(release)
    expect(await rejectedCode(store.workloads.put('w', {}, new Date()))).toBe(
      'ERR_KBS_STORE_UNAVAILABLE',
    )
  })
})

describe('sharedCheck', () => {
  it('shares a run in flight, and reuses its outcome, success or failure, for the interval', async () => {
    let clock = 0
    let runs = 0
    let fail = false
    let finish: (() => void) | undefined
    const check = sharedCheck(
      () => {
        runs += 1
        return new Promise<void>((resolve, reject) => {
          finish = () => {
            if (fail) reject(new Error('down'))
            else resolve()
          }
        })
      },
      1000,
      () => clock,
    )
    const waiting = Array.from({ length: 50 }, () => check())
    expect(runs).toBe(1)
    finish?.()
    await Promise.all(waiting)
    clock = 999
    await check()
    expect(runs).toBe(1)
    clock = 1000
    fail = true
    const failing = check()
    expect(runs).toBe(2)
    finish?.()
    await expect(failing).rejects.toThrow('down')
    clock = 1500
    await expect(check()).rejects.toThrow('down')
    expect(runs).toBe(2)
    clock = 2000
    fail = false
    const again = check()
    finish?.()
    await again
    expect(runs).toBe(3)
  })
})

/**
 * An admin change and its audit entry are one write: when the entry cannot be appended, the
 * change is not made either (and the admin is told it failed), so the log never misses a change
 * the KBS made.
 *
 * @module
 */
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterEach, describe, expect, it } from 'vitest'
import { SQLITE_FILE_NAME } from '../storage/dialect.ts'
import { testAdminToken } from '../server/admin-auth-test-support.ts'
import { initdataToml, simulatorWorkload, startTestKbs, type TestKbs } from './kbs-test-support.ts'

let kbs: TestKbs | undefined
afterEach(async () => {
  await kbs?.stop()
  kbs = undefined
})

/** Run `text` on the KBS's SQLite file behind its back. */
function sqlite(running: TestKbs, text: string): void {
  const file = new BetterSqlite3(join(running.config.dataDir, SQLITE_FILE_NAME))
  try {
    file.exec(text)
  } finally {
    file.close()
  }
}

/** An admin call over plain HTTP, whatever its status; the status. */
async function call(
  running: TestKbs,
  method: string,
  path: string,
  body?: string,
): Promise<number> {
  const token = await testAdminToken(running.admin, running.now())
  const response = await fetch(`${running.kbs.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      // Any content type for a resource (raw bytes); JSON for a workload.
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body }),
  })
  await response.arrayBuffer()
  return response.status
}

const FAIL_APPENDS = `CREATE TRIGGER audit_fails BEFORE INSERT ON audit_entry
  BEGIN SELECT RAISE(ABORT, 'the audit log cannot be written'); END`

describe('admin writes and their audit entries', () => {
  it('makes no resource change whose audit entry could not be appended', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    expect(await call(kbs, 'POST', '/kbs/v0/resource/default/key/one', 'first')).toBe(200)
    sqlite(kbs, FAIL_APPENDS)
    expect(await call(kbs, 'POST', '/kbs/v0/resource/default/key/one', 'second')).toBe(500)
    expect(await call(kbs, 'POST', '/kbs/v0/resource/default/key/two', 'new')).toBe(500)
    expect(await call(kbs, 'DELETE', '/kbs/v0/resource/default/key/one')).toBe(500)
    sqlite(kbs, 'DROP TRIGGER audit_fails')
    const { resources } = (await kbs.adminCall('GET', '/kbs/v0/admin/resources')).json as {
      resources: { path: string; size: number }[]
    }
    // Still the first value (5 bytes), and no second resource.
    expect(resources.map(({ path, size }) => ({ path, size }))).toEqual([
      { path: 'default/key/one', size: 5 },
    ])
    const { entries } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit')).json as {
      entries: { detail?: string }[]
    }
    expect(entries.map((entry) => entry.detail)).toEqual([
      'resource default/key/one written (5 bytes)',
    ])
  })

  it('makes no workload change or key rotation whose audit entry could not be appended', async () => {
    kbs = await startTestKbs({ insecureHttp: true })
    const workload = simulatorWorkload([initdataToml('accepted')])
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/app', workload)).status).toBe(200)
    expect((await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/gone', workload)).status).toBe(200)
    expect((await kbs.adminCall('POST', '/kbs/v0/admin/signing-keys/rotate')).status).toBe(200)
    const keysBefore = signingKeys(kbs)
    const { entries: before } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit')).json as {
      entries: { detail?: string }[]
    }
    sqlite(kbs, FAIL_APPENDS)
    expect(await call(kbs, 'PUT', '/kbs/v0/admin/workloads/app', JSON.stringify(workload))).toBe(
      500,
    )
    expect(await call(kbs, 'PUT', '/kbs/v0/admin/workloads/new', JSON.stringify(workload))).toBe(
      500,
    )
    expect(await call(kbs, 'DELETE', '/kbs/v0/admin/workloads/gone')).toBe(500)
    expect(await call(kbs, 'POST', '/kbs/v0/admin/signing-keys/rotate')).toBe(500)
    sqlite(kbs, 'DROP TRIGGER audit_fails')
    // No version added, no name created nor deleted (tombstone included), no key made or retired.
    const { workloads } = (await kbs.adminCall('GET', '/kbs/v0/admin/workloads')).json as {
      workloads: { name: string; version: number }[]
    }
    expect(workloads.map(({ name, version }) => ({ name, version }))).toEqual([
      { name: 'app', version: 1 },
      { name: 'gone', version: 1 },
    ])
    expect(versions(kbs)).toEqual([
      { name: 'app', version: 1, deleted_at: null },
      { name: 'gone', version: 1, deleted_at: null },
    ])
    expect(signingKeys(kbs)).toEqual(keysBefore)
    const { entries: after } = (await kbs.adminCall('GET', '/kbs/v0/admin/audit')).json as {
      entries: { detail?: string }[]
    }
    expect(after).toEqual(before)
  })
})

/** The KBS's signing keys, read behind its back: kid and retirement. */
function signingKeys(running: TestKbs): unknown[] {
  return read(running, 'SELECT kid, retired_at FROM signing_key ORDER BY kid')
}

/** Every stored workload version, tombstones included. */
function versions(running: TestKbs): unknown[] {
  return read(
    running,
    'SELECT name, version, deleted_at FROM workload_version ORDER BY name, version',
  )
}

function read(running: TestKbs, text: string): unknown[] {
  const file = new BetterSqlite3(join(running.config.dataDir, SQLITE_FILE_NAME), { readonly: true })
  try {
    return file.prepare(text).all()
  } finally {
    file.close()
  }
}

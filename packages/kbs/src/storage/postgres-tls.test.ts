import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startPostgresCluster } from '@initguard/testkit'
import type { PostgresCluster } from '@initguard/testkit'
import {
  VERIFICATION_ENVIRONMENTS,
  loopbackCertificate,
} from '../../../http/src/http-test-support.ts'
import { openKbsStore } from './open-store.ts'
import { openTestStore, randomMasterKey, temporaryDir } from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')

/**
 * The store over real TLS to a real server: a throwaway CA issues the server's certificate for
 * 127.0.0.1 (an IP subjectAltName), and the client trusts that CA through `sslrootcert`.
 */
describe('the KBS store on PostgreSQL over TLS', () => {
  const ourCa = loopbackCertificate({ ca: true, commonName: 'the KBS database CA' })
  const otherCa = loopbackCertificate({ ca: true, commonName: 'another CA' })
  let tlsCluster: PostgresCluster
  let plainCluster: PostgresCluster
  let pki: string
  const caFile = (name: 'ours' | 'other'): string => join(pki, `${name}-ca.pem`)
  /** `url` with the TLS `mode` (query parameters), trusting the CA in `rootcert`. */
  const withTls = (url: string, mode: string, rootcert: 'ours' | 'other' = 'ours'): string =>
    `${url}?${mode}&sslrootcert=${encodeURIComponent(caFile(rootcert))}`
  // pg 8 reads verify-ca as verify-full; with uselibpqcompat as libpq does (the chain only).
  const verifyCaModes = ['sslmode=verify-ca', 'sslmode=verify-ca&uselibpqcompat=true']

  beforeAll(async () => {
    pki = await mkdtemp(join(tmpdir(), 'initguard-pg-pki-'))
    await writeFile(caFile('ours'), ourCa.cert)
    await writeFile(caFile('other'), otherCa.cert)
    const server = loopbackCertificate({ issuer: ourCa })
    ;[tlsCluster, plainCluster] = await Promise.all([
      startPostgresCluster({ tls: { certPem: server.cert, keyPem: server.key } }),
      startPostgresCluster(),
    ])
  }, 120_000)
  afterAll(async () => {
    await Promise.all([tlsCluster.stop(), plainCluster.stop()])
    await rm(pki, { recursive: true, force: true })
  })

  it('opens, writes and reads over sslmode=verify-full, every connection of its pool TLS', async () => {
    const url = withTls(await tlsCluster.createDatabase('verify_full'), 'sslmode=verify-full')
    const store = await openTestStore({
      dataDir: await temporaryDir(),
      masterKey: randomMasterKey(),
      database: { kind: 'postgres', url },
    })
    await store.workloads.put('web', { v: 1 }, at)
    expect(await store.workloads.get('web')).toMatchObject({ version: 1, definition: { v: 1 } })
    // The server's word, not the client's: what it knows of the store's own connections.
    const client = new pg.Client({ connectionString: url })
    await client.connect()
    try {
      const { rows } = await client.query<{ ssl: boolean; version: string }>(
        `SELECT s.ssl, s.version FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
          WHERE a.application_name = 'initguard-kbs' AND a.datname = 'verify_full'`,
      )
      expect(rows.length).toBeGreaterThan(0)
      expect(rows.every((row) => row.ssl && /^TLSv1\.[23]$/.test(row.version))).toBe(true)
      const own = await client.query('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
      expect(own.rows).toEqual([{ ssl: true }])
    } finally {
      await client.end()
    }
  })

  it('opens and works over sslmode=verify-ca with sslrootcert, pg-style and libpq-style', async () => {
    const database = await tlsCluster.createDatabase('verify_ca')
    const masterKey = randomMasterKey()
    for (const [index, mode] of verifyCaModes.entries()) {
      const store = await openTestStore({
        dataDir: await temporaryDir(),
        masterKey,
        database: { kind: 'postgres', url: withTls(database, mode) },
      })
      const name = `db-${String(index)}`
      await store.workloads.put(name, { mode }, at)
      expect((await store.workloads.get(name))?.definition, mode).toEqual({ mode })
    }
  })

  it('refuses a server whose certificate another CA issued, without the password, NODE_TLS_REJECT_UNAUTHORIZED=0 or not', async () => {
    // pg leaves rejectUnauthorized out of its TLS options, and Node then takes the variable's
    // word: `=0` would send the password to whoever answered, sslmode=verify-full or not.
    for (const { name, run } of VERIFICATION_ENVIRONMENTS)
      for (const sslmode of ['sslmode=verify-full', ...verifyCaModes]) {
        const dataDir = await temporaryDir()
        const error = await run(() =>
          rejected(
            openKbsStore({
              dataDir,
              masterKey: randomMasterKey(),
              database: { kind: 'postgres', url: withTls(tlsCluster.url(), sslmode, 'other') },
            }),
          ),
        )
        const what = `${sslmode}, ${name}`
        expect([error.code, error.category], what).toEqual([
          'ERR_KBS_STORE_UNAVAILABLE',
          'unavailable',
        ])
        expect(error.message, what).toMatch(/certificate/)
        expect(JSON.stringify(error.toJSON()), what).not.toContain(tlsCluster.password)
      }
  })

  it('fails closed against a server without TLS, never falling back to plaintext', async () => {
    const error = await rejected(
      openKbsStore({
        dataDir: await temporaryDir(),
        masterKey: randomMasterKey(),
        database: { kind: 'postgres', url: withTls(plainCluster.url(), 'sslmode=verify-full') },
      }),
    )
    expect([error.code, error.category]).toEqual(['ERR_KBS_STORE_UNAVAILABLE', 'unavailable'])
    expect(error.message).toMatch(/does not support SSL/)
    expect(JSON.stringify(error.toJSON())).not.toContain(plainCluster.password)
  })
})

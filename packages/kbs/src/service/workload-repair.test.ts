/**
 * The upgrade procedure of docs/production.md, end to end on a real KBS (HTTPS, the admin API, a
 * simulated guest), on SQLite and PostgreSQL: a workload row without a MAC (written before
 * migration `002-workload-mac`) or with a wrong one (changed behind the KBS) is listed unusable;
 * the admin GET answers 409 `WorkloadUnusable` with the coded reason and the stored text marked
 * unauthenticated (never 401, which would blame the admin's token); the operator puts the
 * definition again, which makes a newer, authenticated version; and the guest gets its secret.
 */
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { rejected, startPostgresCluster, type PostgresCluster } from '@initguard/testkit'
import { KBS_OPENAPI } from '../server/openapi.ts'
import { SQLITE_FILE_NAME } from '../storage/dialect.ts'
import { STORE_ENGINES } from '../storage/store-test-support.ts'
import {
  initdataToml,
  simulatorWorkload,
  startTestKbs,
  uploadResource,
  type TestKbs,
} from './kbs-test-support.ts'

const LAUNCHED = initdataToml('the legacy workload')
const SECRET = 'the legacy password'
const INTEGRITY = 'ERR_KBS_WORKLOAD_INTEGRITY'
const UNUSABLE_TYPE = 'https://github.com/confidential-containers/kbs/errors/WorkloadUnusable'

type Schema = Readonly<Record<string, unknown>>
const components = (KBS_OPENAPI['components'] as { schemas: Record<string, Schema> }).schemas
const resolved = (schema: Schema | undefined): Schema => {
  const $ref = schema?.['$ref']
  return typeof $ref === 'string'
    ? resolved(components[$ref.split('/').at(-1) ?? ''])
    : (schema ?? {})
}

/** `body` has every member `schema` requires, no other, and its `$ref`'d objects do too. */
function expectDocumentedAs(body: unknown, schema: Schema | undefined): void {
  const { properties = {}, required = [] } = resolved(schema) as {
    properties?: Record<string, Schema>
    required?: string[]
  }
  const members = Object.keys(body as object)
  expect(members).toEqual(expect.arrayContaining(required))
  expect(Object.keys(properties)).toEqual(expect.arrayContaining(members))
  for (const [member, value] of Object.entries(body as object))
    if (properties[member]?.['$ref'] !== undefined) expectDocumentedAs(value, properties[member])
}

/** The documented schema of an admin workload route's answer with `status`. */
function documented(method: 'get' | 'put', status: string): Schema | undefined {
  const paths = KBS_OPENAPI['paths'] as Record<string, Record<string, Schema>>
  const responses = paths['/kbs/v0/admin/workloads/{name}']?.[method]?.['responses'] as Record<
    string,
    { content?: Record<string, { schema: Schema }> }
  >
  return responses[status]?.content?.['application/json']?.schema
}

describe.each(STORE_ENGINES)(
  'repairing a workload row that does not authenticate, on %s',
  (engine) => {
    let cluster: PostgresCluster | undefined
    let kbs: TestKbs
    let url: string | undefined
    let counter = 0

    beforeAll(async () => {
      if (engine === 'postgres') cluster = await startPostgresCluster()
    }, 120_000)
    afterAll(() => cluster?.stop())

    async function started(): Promise<TestKbs> {
      counter += 1
      url = await cluster?.createDatabase(`repair_${String(counter)}`)
      kbs = await startTestKbs(url === undefined ? {} : { database: url })
      return kbs
    }

    /** Run SQL on the KBS's database behind its back. */
    async function behindTheKbs(text: string): Promise<void> {
      if (url === undefined) {
        const file = new BetterSqlite3(join(kbs.config.dataDir, SQLITE_FILE_NAME))
        try {
          file.prepare(text).run()
        } finally {
          file.close()
        }
        return
      }
      const client = new pg.Client({ connectionString: url })
      await client.connect()
      try {
        await client.query(text)
      } finally {
        await client.end()
      }
    }

    /** Put `legacy` and its secret, then take the row's MAC away or change the row behind the KBS. */
    async function legacyRow(breakIt: string): Promise<Record<string, unknown>> {
      const definition = simulatorWorkload([LAUNCHED], { resources: ['legacy/app/*'] })
      const put = await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/legacy', definition)
      expect(put.status).toBe(200)
      expect(await uploadResource(kbs, 'legacy/app/password', SECRET)).toBe(200)
      await behindTheKbs(breakIt)
      // An admin write drops this replica's cached read (a 404 delete is one).
      expect((await kbs.adminCall('DELETE', '/kbs/v0/admin/workloads/none')).status).toBe(404)
      return (put.json as { definition: Record<string, unknown> }).definition
    }

    const guestGetsSecret = async (): Promise<string> => {
      const client = kbs.client()
      await client.attest({ tee: 'snp', evidence: kbs.guest('snp', LAUNCHED), initData: LAUNCHED })
      return new TextDecoder().decode(await client.getResource('legacy/app/password'))
    }

    it('a row without a MAC: list shows it unusable, get shows the unauthenticated text, put again repairs it', async () => {
      await started()
      try {
        const stored = await legacyRow(
          `UPDATE workload_version SET mac = NULL WHERE name = 'legacy'`,
        )
        // Out of use: its guest is refused.
        const refused = await rejected(guestGetsSecret())
        expect(refused.code).toBe('ERR_KBS_FORBIDDEN')

        // 1. The admin list shows it unusable, without a definition.
        const list = await kbs.adminCall('GET', '/kbs/v0/admin/workloads')
        expect(list.status).toBe(200)
        expect((list.json as { workloads: unknown[] }).workloads).toEqual([
          {
            name: 'legacy',
            version: 1,
            unusable: expect.objectContaining({ code: INTEGRITY }) as unknown,
          },
        ])

        // 2. The admin get says why, and shows the stored text marked unauthenticated: not 401.
        const got = await kbs.adminCall('GET', '/kbs/v0/admin/workloads/legacy')
        expect(got.status).toBe(409)
        const body = got.json as Record<string, unknown>
        expect(body).toMatchObject({
          type: UNUSABLE_TYPE,
          workload: 'legacy',
          version: 1,
          unusable: { code: INTEGRITY },
        })
        expect(body['detail']).toMatch(/legacy v1 has no MAC.*not used/)
        expect(body).not.toHaveProperty('definition')
        const text = body['unauthenticatedDefinition']
        expect(typeof text).toBe('string')
        expect(JSON.parse(text as string)).toEqual(stored)
        // As the OpenAPI description says.
        expectDocumentedAs(body, documented('get', '409'))

        // 3. Put it again (the definition the get showed, once reviewed): a newer version.
        const again = await kbs.adminCall(
          'PUT',
          '/kbs/v0/admin/workloads/legacy',
          JSON.parse(text as string),
        )
        expect(again.status).toBe(200)
        expect(again.json).toMatchObject({ name: 'legacy', version: 2, definition: stored })
        const now = await kbs.adminCall('GET', '/kbs/v0/admin/workloads/legacy')
        expect(now).toEqual({ status: 200, json: again.json })
        expectDocumentedAs(now.json, documented('get', '200'))
        expectDocumentedAs(again.json, documented('put', '200'))

        // 4. The guest gets its secret.
        expect(await guestGetsSecret()).toBe(SECRET)
      } finally {
        await kbs.stop()
      }
    })

    it('a row changed behind the KBS: get shows the changed text, marked; put makes a version above it', async () => {
      await started()
      try {
        await legacyRow(
          `UPDATE workload_version SET version = 6, definition = REPLACE(definition, 'legacy/app/*', '*/*/*') WHERE name = 'legacy'`,
        )
        const got = await kbs.adminCall('GET', '/kbs/v0/admin/workloads/legacy')
        expect(got.status).toBe(409)
        const body = got.json as Record<string, unknown>
        expect(body).toMatchObject({
          workload: 'legacy',
          version: 6,
          unusable: { code: INTEGRITY },
        })
        expect(body['detail']).toMatch(/does not authenticate/)
        expect(body['unauthenticatedDefinition']).toContain('*/*/*')
        expect(await rejected(guestGetsSecret())).toMatchObject({ code: 'ERR_KBS_FORBIDDEN' })
        // The operator puts the definition from their own records: numbered above the changed row.
        const definition = simulatorWorkload([LAUNCHED], { resources: ['legacy/app/*'] })
        const again = await kbs.adminCall('PUT', '/kbs/v0/admin/workloads/legacy', definition)
        expect(again.json).toMatchObject({ version: 7 })
        expect(await guestGetsSecret()).toBe(SECRET)
      } finally {
        await kbs.stop()
      }
    })
  },
)

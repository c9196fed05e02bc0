/**
 * The audit log on PostgreSQL is listed in commit order: a reader paging with the last id it was
 * given sees every committed entry exactly once, although ids are taken when a write begins and
 * rows appear when it commits (in another order when writers overlap). Writers here are raw
 * connections holding a transaction open, inserting as the store's INSERT does (the columns of
 * migration 008 are filled by the table's defaults).
 */
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { describe, expect, it, onTestFinished } from 'vitest'
import { rejectedCode } from '@initguard/testkit'
import type { AuditEntryInput, AuditLog } from '../ports.ts'
import { auditInsert, auditValues } from './audit-row.ts'
import type { KbsDatabase } from './schema.ts'
import {
  STORE_ENGINES,
  openTestStore,
  randomMasterKey,
  testDatabases,
  undoMigrations,
} from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')

/** A connection of its own (a replica's), closed after the test. */
async function writer(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  onTestFinished(() => client.end())
  return client
}

/** Insert one entry on `client` (inside whatever transaction it holds); its id. */
async function insert(client: pg.Client, detail: string): Promise<number> {
  const { rows } = await client.query<{ id: number }>(
    "INSERT INTO audit_entry (at, action, outcome, detail) VALUES ($1, 'admin', 'changed', $2) RETURNING id",
    [at.toISOString(), detail],
  )
  return Number(rows[0]?.id)
}

/** A reader that pages with the cursor it was given, keeping every id in the order received. */
function reader(audit: AuditLog, limit = 1000) {
  const seen: number[] = []
  return {
    seen,
    /** Page until a page comes back short. */
    async drain(): Promise<void> {
      for (;;) {
        const page = await audit.list({ afterId: seen.at(-1) ?? 0, limit })
        seen.push(...page.map((entry) => entry.id))
        if (page.length < limit) return
      }
    },
  }
}

describe('the audit log on postgres, listed in commit order', () => {
  const databases = testDatabases('postgres')

  const open = async () => {
    const where = await databases.fresh()
    const { audit } = await openTestStore({ ...where, masterKey: randomMasterKey() })
    const url = where.database.kind === 'postgres' ? where.database.url : ''
    return {
      audit,
      url,
      /** A replica's connection with a transaction begun. */
      begin: async (): Promise<pg.Client> => {
        const client = await writer(url)
        await client.query('BEGIN')
        return client
      },
      /** An entry appended through the store, committed at once; its id. */
      append: async (): Promise<number> =>
        (await audit.append({ at, action: 'admin', outcome: 'changed' })).id,
    }
  }

  it('an entry committed after one with a higher id is not paged past', async () => {
    const { audit, begin, append } = await open()
    const a = await begin()
    const first = await insert(a, 'A, held open')
    const second = await append()
    expect(second).toBeGreaterThan(first)
    const tail = reader(audit)
    await tail.drain()
    await a.query('COMMIT')
    await tail.drain()
    expect(tail.seen).toEqual([first, second])
  })

  it('an entry with a higher id whose transaction began first comes first, ids out of order', async () => {
    const { audit, begin, append } = await open()
    const a = await begin()
    // A writes elsewhere first (it has its transaction id), then takes its entry's id after B's.
    await a.query("SELECT pg_current_xact_id(), 'A began'")
    const tail = reader(audit)
    const second = await append()
    await tail.drain()
    const first = await insert(a, 'A, held open')
    expect(first).toBeGreaterThan(second)
    await tail.drain()
    expect(tail.seen).toEqual([])
    await a.query('COMMIT')
    await tail.drain()
    expect(tail.seen).toEqual([first, second])
  })

  it('refuses a cursor no listing gave: an entry above the horizon', async () => {
    const { audit, begin, append } = await open()
    const a = await begin()
    await insert(a, 'A, held open')
    // Committed, but behind A's transaction: a reader paging from it would never get A's entry.
    const ahead = await append()
    expect(await rejectedCode(audit.list({ afterId: ahead, limit: 10 }))).toBe(
      'ERR_KBS_AUDIT_CURSOR_AHEAD',
    )
    await a.query('COMMIT')
    expect(await audit.list({ afterId: ahead, limit: 10 })).toEqual([])
  })

  it('an aborted transaction leaves a gap in the ids and does not stall the tail', async () => {
    const { audit, begin, append } = await open()
    const a = await begin()
    const aborted = await insert(a, 'A, rolled back')
    const kept = await append()
    const tail = reader(audit)
    await tail.drain()
    await a.query('ROLLBACK')
    await tail.drain()
    const next = await append()
    await tail.drain()
    expect(tail.seen).toEqual([kept, next])
    expect(tail.seen).not.toContain(aborted)
  })

  it('random interleavings committed in random order: a paging reader never misses or repeats', async () => {
    const { audit, url, append } = await open()
    const writers = await Promise.all(Array.from({ length: 6 }, () => writer(url)))
    // A fixed seed: a failure can be replayed.
    let seed = 20261206
    const random = (n: number): number => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % n
    }
    const tails = [reader(audit, 1), reader(audit, 3), reader(audit, 50)]
    const committed: number[] = []
    for (let round = 0; round < 12; round++) {
      const open = writers.map(() => [] as number[])
      for (const client of writers) await client.query('BEGIN')
      for (let step = 0; step < 24; step++) {
        const index = random(writers.length + 1)
        const client = writers[index]
        if (client === undefined) {
          committed.push(await append())
        } else {
          open[index]?.push(await insert(client, `round ${String(round)}`))
        }
        const tail = tails[random(tails.length)]
        if (random(3) === 0) await tail?.drain()
      }
      const order = writers.map((_, index) => index)
      for (let i = order.length - 1; i > 0; i--) {
        const j = random(i + 1)
        ;[order[i], order[j]] = [order[j] ?? 0, order[i] ?? 0]
      }
      for (const index of order) {
        const rollback = random(5) === 0
        await writers[index]?.query(rollback ? 'ROLLBACK' : 'COMMIT')
        if (!rollback) committed.push(...(open[index] ?? []))
        await tails[random(tails.length)]?.drain()
      }
    }
    const expected = [...committed].sort((x, y) => x - y)
    for (const tail of tails) {
      await tail.drain()
      expect(new Set(tail.seen).size).toBe(tail.seen.length)
      expect([...tail.seen].sort((x, y) => x - y)).toEqual(expected)
    }
  })
})

describe.each(STORE_ENGINES)('migration 008 on a %s database with entries', (engine) => {
  const databases = testDatabases(engine)
  const entry = (detail: string): AuditEntryInput => ({
    at,
    action: 'admin',
    outcome: 'changed',
    detail,
  })

  it('keeps the entries in id order, then lists new ones after them, an older replica’s too', async () => {
    const where = await databases.fresh()
    const masterKey = randomMasterKey()
    const before = await openTestStore({ ...where, masterKey })
    for (const detail of ['1', '2', '3']) await before.audit.append(entry(detail))
    await before.close()
    await undoMigrations(where, ['008-audit-commit-order'])
    // An older replica: the store's INSERT, prepared (named) on its own connection before 008.
    let older: ((detail: string) => Promise<number>) | undefined
    if (where.database.kind === 'postgres') {
      const client = await writer(where.database.url)
      const compiler = new Kysely<KbsDatabase>({
        dialect: new PostgresDialect({ pool: new pg.Pool() }),
      })
      const text = auditInsert(compiler).returning('id').compile().sql
      await compiler.destroy()
      older = async (detail) => {
        const { rows } = await client.query<{ id: number }>({
          name: 'pre_008_audit_insert',
          text,
          values: auditValues(entry(detail)),
        })
        return Number(rows[0]?.id)
      }
      expect(await older('4')).toBe(4)
    } else {
      await databases.raw(
        where,
        "INSERT INTO audit_entry (at, action, outcome, detail) VALUES (?, 'admin', 'changed', '4')",
        [at.toISOString()],
      )
    }
    const store = await openTestStore({ ...where, masterKey })
    expect(store.appliedMigrations).toEqual(['008-audit-commit-order'])
    if (older !== undefined) expect(await older('5')).toBe(5)
    else await store.audit.append(entry('5'))
    expect((await store.audit.append(entry('6'))).id).toBe(6)
    const listed = await store.audit.list({ limit: 10 })
    expect(listed.map((e) => [e.id, e.detail])).toEqual(
      ['1', '2', '3', '4', '5', '6'].map((detail) => [Number(detail), detail]),
    )
    expect((await store.audit.list({ afterId: 4, limit: 10 })).map((e) => e.id)).toEqual([5, 6])
    if (engine === 'sqlite') return
    // Before 008: writer 0 (below every real xid) and no database time; after, the defaults.
    const rows = await databases.raw(
      where,
      'SELECT id, writer_xid::text AS writer, db_written_at IS NOT NULL AS timed FROM audit_entry ORDER BY id',
    )
    expect(rows.map((row) => [row['id'], row['writer'] === '0', row['timed']])).toEqual([
      [1, true, false],
      [2, true, false],
      [3, true, false],
      [4, true, false],
      [5, false, true],
      [6, false, true],
    ])
  })
})

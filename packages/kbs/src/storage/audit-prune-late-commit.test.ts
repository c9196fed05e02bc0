/**
 * On PostgreSQL an audit entry's id is taken when its write begins and the row appears when it
 * commits: a prune running meanwhile neither counts nor removes it. The entry then sits below
 * the mark, in the log, and the next prune (which archives from the start) takes it: nothing is
 * lost, nothing unarchived is removed.
 *
 * @module
 */
import { describe, expect, it } from 'vitest'
import pg from 'pg'
import type { AuditEntryInput, AuditPruned } from '../ports.ts'
import { openTestStore, randomMasterKey, testDatabases } from './store-test-support.ts'

const olderThan = new Date('2026-12-01T00:00:00.000Z')
/** A pruner at `olderThan` keeping nothing longer: every entry before it may go. */
const bound = { now: olderThan, olderThan }
const recorded = (pruned: AuditPruned): AuditEntryInput => ({
  at: olderThan,
  action: 'admin',
  outcome: 'changed',
  detail: `pruned through ${String(pruned.throughId)}: ${String(pruned.count)}`,
})
const entry = (day: number): AuditEntryInput => ({
  at: new Date(Date.UTC(2026, 0, day)),
  action: 'admin',
  outcome: 'changed',
  detail: String(day),
})

describe('pruning the audit log on postgres while an entry commits late', () => {
  const databases = testDatabases('postgres')

  it('keeps the late entry (below the mark, in the log) for the next prune, which counts it', async () => {
    const at = await databases.fresh()
    const { audit } = await openTestStore({ ...at, masterKey: randomMasterKey() })
    await audit.append(entry(1))
    const url = at.database.kind === 'postgres' ? at.database.url : ''
    const late = new pg.Client({ connectionString: url })
    await late.connect()
    try {
      await late.query('BEGIN')
      const [{ id: lateId } = { id: 0 }] = (
        await late.query<{ id: string }>(
          "INSERT INTO audit_entry (at, action, outcome) VALUES ('2026-01-02T00:00:00.000Z', 'admin', 'changed') RETURNING id",
        )
      ).rows
      for (const day of [3, 4, 5]) await audit.append(entry(day))
      // What an archive read now holds up to entry 4: entries 1, 3 and 4 (2 is not visible).
      const listed = (await audit.list({ limit: 10 })).map((e) => e.id)
      expect(listed).toEqual([1, 3, 4, 5])
      expect(
        await audit.prune({ throughId: 4, ...bound, expectedCount: 3, recorded }),
      ).toMatchObject({ throughId: 4, count: 3 })
      await late.query('COMMIT')
      expect(Number(lateId)).toBe(2)
    } finally {
      await late.end()
    }
    expect((await audit.list({ limit: 10 })).map((e) => e.id)).toEqual([2, 5, 6])
    // A prune through the mark that does not count it is refused; one that does removes it.
    await expect(
      audit.prune({ throughId: 4, ...bound, expectedCount: 0, recorded }),
    ).rejects.toThrow(/holds 1 entries/)
    expect((await audit.prune({ throughId: 4, ...bound, expectedCount: 1, recorded })).count).toBe(
      1,
    )
    expect((await audit.list({ limit: 10 })).map((e) => e.id)).toEqual([5, 6, 7])
  })
})

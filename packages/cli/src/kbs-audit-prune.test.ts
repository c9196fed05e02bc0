/**
 * `kbs admin audit prune` against a real KBS (in-process, HTTPS, SQLite): the entries older than
 * `--before` (up to the first that is not) are written to the archive (new file, 0600), then
 * pruned, and the KBS records the prune; nothing is pruned without an archive unless
 * `--no-archive` says so; a prune the KBS refuses leaves the archive and says so. Against a KBS
 * stand-in: a long log is pruned in steps of at most AUDIT_PRUNE_MAX, each naming its count, and
 * the archive stops at the first entry that is not older, whatever the ids after it.
 */
import { readFile, stat, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { REPLICA_CLOCK_SKEW_MS } from '@initguard/kbs'
import { AUDIT_PRUNE_MAX } from '@initguard/kbs-protocol'
import {
  jsonError,
  kbsKeygen,
  runInProcess,
  startSimKbs,
  type CliRun,
  type InProcessSimKbs,
} from './cli-test-support.ts'

let kbs: InProcessSimKbs
/** How far `kbs`'s clock is ahead of the real one (behind, below 0). */
let ahead = 0
/** A KBS with the default minimum retention (7 days): every entry here is too young to prune. */
let strict: InProcessSimKbs
const at = (name: string): string => kbs.at(name)

beforeAll(async () => {
  ;[kbs, strict] = await Promise.all([
    startSimKbs(
      'initguard-kbs-prune-',
      {},
      { audit: { 'min-retention': '1ms' } },
      () => new Date(Date.now() + ahead),
    ),
    startSimKbs('initguard-kbs-prune-strict-'),
  ])
  await writeFile(at('secret.txt'), 'x')
  await writeFile(strict.at('secret.txt'), 'x')
})

afterAll(async () => {
  await Promise.all([kbs.close(), strict.close()])
})

/** `resource put` of default/app/N: one audit entry each. */
async function change(on: InProcessSimKbs, n: number): Promise<void> {
  const run = await on.admin(
    'resource',
    'put',
    '--path',
    `default/app/k${String(n)}`,
    '--file',
    on.at('secret.txt'),
  )
  expect(run.code, run.stderr).toBe(0)
}

interface Entry {
  readonly id: number
  readonly at: string
  readonly detail?: string
}

async function entries(on: InProcessSimKbs): Promise<Entry[]> {
  const run = await on.admin('audit', '--limit', '1000', '--json')
  expect(run.code, run.stderr).toBe(0)
  return (JSON.parse(run.stdout) as { result: { entries: Entry[] } }).result.entries
}

const prune = (on: InProcessSimKbs, ...args: string[]): Promise<CliRun> =>
  on.admin('audit', 'prune', ...args, '--json')

describe('kbs admin audit prune on a real KBS', () => {
  it('archives the entries older than --before, up to the first that is not, then prunes them; the KBS records it', async () => {
    // The KBS keeps every entry for min-retention plus the replicas' clock skew, judged on its
    // clock and its database's: entries are written with its clock behind by more, then pruned
    // with it right.
    ahead = -(REPLICA_CLOCK_SKEW_MS + 1000)
    for (const n of [1, 2, 3]) await change(kbs, n)
    const listed = await entries(kbs)
    // Just after the third entry; the next entries are made once the clock has passed it.
    const before = new Date(Date.parse(listed.at(-1)?.at ?? '') + 1).toISOString()
    while (Date.now() + ahead <= Date.parse(before) + 1)
      await new Promise((resolve) => setTimeout(resolve, 2))
    for (const n of [4, 5]) await change(kbs, n)
    ahead = 0
    const run = await prune(kbs, '--before', before, '--archive', at('archive.jsonl'))
    expect(run.code, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout)).toMatchObject({
      ok: true,
      action: 'audit prune',
      result: { archive: at('archive.jsonl'), archived: 3, throughId: 3, pruned: 3, steps: 1 },
    })
    const archived = (await readFile(at('archive.jsonl'), 'utf8')).trimEnd().split('\n')
    expect(archived.map((line) => JSON.parse(line) as unknown)).toEqual(listed)
    expect((await stat(at('archive.jsonl'))).mode & 0o777).toBe(0o600)
    const left = await entries(kbs)
    expect(left.map((entry) => entry.id)).toEqual([4, 5, 6])
    expect(left[2]?.detail).toMatch(
      /^audit log pruned through entry 3: 3 entries removed, at .* \(by admin key /,
    )

    // The archive is never written over; nothing changes.
    const again = await prune(kbs, '--before', before, '--archive', at('archive.jsonl'))
    expect([again.code, jsonError(again).code]).toEqual([7, 'ERR_FILE_EXISTS'])
    // Nothing older is left: nothing is pruned, and no empty archive stays behind.
    const none = await prune(kbs, '--before', before, '--archive', at('none.jsonl'))
    expect(none.code, none.stderr).toBe(0)
    expect(JSON.parse(none.stdout)).toMatchObject({
      result: { archive: null, archived: 0, pruned: 0 },
    })
    await expect(stat(at('none.jsonl'))).rejects.toThrow(/ENOENT/)
    expect((await entries(kbs)).map((entry) => entry.id)).toEqual([4, 5, 6])

    // --no-archive, explicitly: everything older than an hour from now but the newest entry.
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const unarchived = await prune(kbs, '--before', future, '--no-archive')
    expect(unarchived.code, unarchived.stderr).toBe(0)
    expect(JSON.parse(unarchived.stdout)).toMatchObject({
      result: { archive: null, archived: 2, throughId: 5, pruned: 2 },
    })
    expect((await entries(kbs)).map((entry) => entry.id)).toEqual([6, 7])

    // A reader's cursor pruned since is refused (its next entries may be gone unread), as is
    // one never there: never read as "entries above that id".
    const tail = async (after: number) => {
      const run = await kbs.admin('audit', '--after', String(after), '--json')
      return run.code === 0
        ? (JSON.parse(run.stdout) as { result: { entries: Entry[] } }).result.entries.map(
            (entry) => entry.id,
          )
        : [run.code, jsonError(run).code, jsonError(run).details['kbsCode']]
    }
    expect(await tail(3)).toEqual([2, 'ERR_KBS_ADMIN_REQUEST', 'ERR_KBS_AUDIT_CURSOR_PRUNED'])
    expect(await tail(99)).toEqual([3, 'ERR_KBS_ADMIN_NOT_FOUND', 'ERR_KBS_AUDIT_CURSOR_UNKNOWN'])
    expect(await tail(6)).toEqual([7])
  })

  it('refuses without --archive, with both, without or with a bad --before: nothing is pruned', async () => {
    const before = (await entries(kbs)).map((entry) => entry.id)
    const future = new Date(Date.now() + 3_600_000).toISOString()
    for (const args of [
      ['--before', future],
      ['--before', future, '--archive', at('both.jsonl'), '--no-archive'],
      ['--archive', at('x.jsonl')],
      ['--before', '2026-02-30', '--archive', at('y.jsonl')],
      ['--before', 'yesterday', '--archive', at('y.jsonl')],
      ['--before', future, '--archive', '-'],
      ['--limit', '5', '--before', future, '--archive', at('z.jsonl')],
    ]) {
      const run = await prune(kbs, ...args)
      expect({ args, code: run.code }).toEqual({ args, code: 2 })
    }
    expect((await entries(kbs)).map((entry) => entry.id)).toEqual(before)
    await expect(stat(at('both.jsonl'))).rejects.toThrow(/ENOENT/)
  })

  it('a prune the KBS refuses (younger than its min-retention) prunes nothing, keeps the archive and says so', async () => {
    for (const n of [1, 2]) await change(strict, n)
    const listed = await entries(strict)
    const future = new Date(Date.now() + 3_600_000).toISOString()
    const run = await prune(strict, '--before', future, '--archive', strict.at('kept.jsonl'))
    expect(run.code).toBe(2)
    const error = jsonError(run)
    expect(error).toMatchObject({
      code: 'ERR_KBS_ADMIN_REQUEST',
      details: {
        status: 409,
        variant: 'AuditPruneRefused',
        kbsCode: 'ERR_KBS_AUDIT_PRUNE_RETENTION',
      },
    })
    expect(error.message).toMatch(
      /min-retention.*pruned through entry 0 \(0 entries\) before this step, nothing after; the archive \S+kept\.jsonl stays, with all 1 entries$/,
    )
    const kept = (await readFile(strict.at('kept.jsonl'), 'utf8')).trimEnd().split('\n')
    expect(kept.map((line) => JSON.parse(line) as unknown)).toEqual(listed.slice(0, 1))
    expect(await entries(strict)).toEqual(listed)
  })
})

/** A KBS stand-in over plain HTTP serving `log` as the audit log; records each prune body. */
async function standInLog(
  log: readonly { id: number; at: string }[],
): Promise<{ url: string; prunes: unknown[]; server: Server }> {
  const prunes: unknown[] = []
  const server = createServer((request, response) => {
    let body = ''
    request.on('data', (chunk: Buffer) => (body += chunk.toString()))
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://x')
      let answer: unknown
      if (request.method === 'POST') {
        const asked = JSON.parse(body) as { throughId: number; expectedCount: number }
        prunes.push(asked)
        answer = { prunedThroughId: asked.throughId, pruned: asked.expectedCount }
      } else {
        const after = Number(url.searchParams.get('after'))
        const limit = Number(url.searchParams.get('limit'))
        // The log in its (commit) order, from the entry after `after`, as the KBS pages it.
        const from = after === 0 ? 0 : log.findIndex((entry) => entry.id === after) + 1
        answer = { entries: log.slice(from, from + limit) }
      }
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify(answer))
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { url: `http://127.0.0.1:${String(port)}`, prunes, server }
}

describe('kbs admin audit prune against a stand-in', () => {
  const old = '2026-01-01T00:00:00.000Z'
  const runOn = async (
    log: readonly { id: number; at: string }[],
    archive: string,
  ): Promise<{ run: CliRun; prunes: unknown[]; lines: number }> => {
    const kbsStandIn = await standInLog(log)
    try {
      const run = await runInProcess([
        ...['kbs', 'admin', '--url', kbsStandIn.url, '--admin-key', at('stand-in.key')],
        ...['audit', 'prune', '--before', '2026-06-01', '--archive', archive, '--json'],
      ])
      const text = await readFile(archive, 'utf8').catch(() => '')
      return {
        run,
        prunes: kbsStandIn.prunes,
        lines: text === '' ? 0 : text.split('\n').length - 1,
      }
    } finally {
      await new Promise((resolve) => kbsStandIn.server.close(resolve))
    }
  }
  beforeAll(async () => kbsKeygen(at('stand-in')))

  it(`prunes a long log in steps of at most ${String(AUDIT_PRUNE_MAX)}, each naming its count`, async () => {
    const total = 2 * AUDIT_PRUNE_MAX + 5001
    const log = Array.from({ length: total }, (_, i) => ({ id: i + 1, at: old }))
    const { run, prunes, lines } = await runOn(log, at('long.jsonl'))
    expect(run.code, run.stderr).toBe(0)
    // The newest entry is never pruned.
    expect(lines).toBe(total - 1)
    expect(prunes).toEqual([
      { throughId: AUDIT_PRUNE_MAX, expectedCount: AUDIT_PRUNE_MAX },
      { throughId: 2 * AUDIT_PRUNE_MAX, expectedCount: AUDIT_PRUNE_MAX },
      { throughId: total - 1, expectedCount: 5000 },
    ])
    expect(JSON.parse(run.stdout)).toMatchObject({
      result: { archived: total - 1, pruned: total - 1, throughId: total - 1, steps: 3 },
    })
  })

  it('stops at the first entry that is not older, whatever the ids after it', async () => {
    const log = [
      { id: 1, at: old },
      { id: 3, at: old },
      { id: 4, at: '2026-07-01T00:00:00.000Z' },
      { id: 5, at: old },
      { id: 9, at: old },
    ]
    const { run, prunes, lines } = await runOn(log, at('ordered.jsonl'))
    expect(run.code, run.stderr).toBe(0)
    expect(lines).toBe(2)
    expect(prunes).toEqual([{ throughId: 3, expectedCount: 2 }])
  })

  it('takes ids out of order (commit order) and prunes only below every id it did not archive', async () => {
    // Entry 2 committed after 3; entry 4 (not older) before 5 is known to be followed; 5 is
    // archived but stays (a step through 5 would take 4, which the archive lacks).
    const log = [
      { id: 1, at: old },
      { id: 3, at: old },
      { id: 2, at: old },
      { id: 5, at: old },
      { id: 4, at: '2026-07-01T00:00:00.000Z' },
      { id: 6, at: old },
    ]
    const { run, prunes, lines } = await runOn(log, at('commit-order.jsonl'))
    expect(run.code, run.stderr).toBe(0)
    expect(lines).toBe(4)
    expect(prunes).toEqual([{ throughId: 3, expectedCount: 3 }])
    expect(JSON.parse(run.stdout)).toMatchObject({ result: { archived: 4, throughId: 3 } })
  })

  it('refuses an answer that lists an entry twice: nothing is pruned', async () => {
    const log = [
      { id: 1, at: old },
      { id: 2, at: old },
      { id: 1, at: old },
      { id: 3, at: old },
    ]
    const { run, prunes } = await runOn(log, at('twice.jsonl'))
    expect(jsonError(run)).toMatchObject({ code: 'ERR_KBS_ADMIN_ANSWER' })
    expect(prunes).toEqual([])
  })
})

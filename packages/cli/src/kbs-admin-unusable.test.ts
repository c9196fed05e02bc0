/**
 * The upgrade procedure of docs/production.md with the CLI, on a real KBS (in-process, HTTPS with
 * its generated certificate, trusting the TEE simulator): a workload row without a MAC (written
 * before migration 002) or changed behind the KBS; `workload list` shows it unusable; `workload
 * get` exits 5 and shows the stored definition marked UNAUTHENTICATED (text and JSON, hostile
 * characters escaped); the operator puts the reviewed definition again (`--definition FILE`), and
 * the guest gets its secret.
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import BetterSqlite3 from 'better-sqlite3'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SQLITE_FILE_NAME } from '@initguard/kbs'
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
} from '@initguard/tee-simulator'
import {
  jsonError,
  kbsKeygen,
  runInProcess,
  startSimKbs,
  type CliRun,
  type InProcessSimKbs,
} from './cli-test-support.ts'

/** What must not reach a terminal from the stored text: every control but the line feeds we print, bidi, zero width, separators. */
// eslint-disable-next-line no-control-regex -- control characters are what is looked for
const TERMINAL_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u200b\u2028\u202e]/u
let kbs: InProcessSimKbs
const at = (name: string): string => kbs.at(name)

beforeAll(async () => {
  kbs = await startSimKbs('initguard-kbs-unusable-')
  await writeFile(at('secret.txt'), 'the legacy password')
})

afterAll(async () => kbs.close())

const admin = (...args: string[]): Promise<CliRun> => kbs.admin(...args)

const getResource = (): Promise<CliRun> => kbs.getResource('legacy/app/password')

/** Run SQL on the KBS's SQLite file behind its back. */
function behindTheKbs(text: string): void {
  const file = new BetterSqlite3(join(at('kbs-data'), SQLITE_FILE_NAME))
  try {
    file.prepare(text).run()
  } finally {
    file.close()
  }
}

describe('kbs admin workload get of a workload whose row does not authenticate', () => {
  it('a row without a MAC: list, get (exit 5, marked unauthenticated), put it again, the guest gets its secret', async () => {
    const put = await admin(
      ...['workload', 'put', '--name', 'legacy', '--tee', 'snp', '--tee', 'tdx'],
      ...['--initdata', at('initdata.toml'), '--resource', 'legacy/app/*'],
      ...['--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX, '--tdx-mrtd', SIMULATOR_TDX_MRTD_HEX],
      ...['--tdx-rtmr', `1=${SIMULATOR_TDX_RTMR_HEX}`, '--tdx-rtmr', `2=${SIMULATOR_TDX_RTMR_HEX}`],
    )
    expect(put.code, put.stderr).toBe(0)
    const secret = ['resource', 'put', '--path', 'legacy/app/password', '--file']
    expect((await admin(...secret, at('secret.txt'))).code).toBe(0)
    expect((await getResource()).code).toBe(0)
    behindTheKbs(`UPDATE workload_version SET mac = NULL WHERE name = 'legacy'`)
    // A write through the admin API drops the KBS's cached read of the workloads.
    expect((await admin('workload', 'delete', '--name', 'none')).code).toBe(3)
    expect((await getResource()).code).toBe(5)

    const list = await admin('workload', 'list', '--json')
    expect(list.code).toBe(0)
    expect(JSON.parse(list.stdout)).toMatchObject({
      result: {
        workloads: [
          { name: 'legacy', version: 1, unusable: { code: 'ERR_KBS_WORKLOAD_INTEGRITY' } },
        ],
      },
    })

    // Text: the failure on standard error, the stored text between markers on standard output.
    const text = await admin('workload', 'get', '--name', 'legacy')
    expect(text.code).toBe(5)
    expect(text.stderr).toMatch(/workload legacy v1 is not used by the KBS.*has no MAC/)
    expect(text.stderr).toContain('code: ERR_KBS_WORKLOAD_UNUSABLE')
    expect(text.stdout).toMatch(/^UNAUTHENTICATED stored definition of workload legacy v1/)
    const [, shown = ''] =
      /-----BEGIN UNAUTHENTICATED WORKLOAD DEFINITION-----\n(.*)\n-----END UNAUTHENTICATED WORKLOAD DEFINITION-----\n$/s.exec(
        text.stdout,
      ) ?? []
    expect(JSON.parse(shown)).toMatchObject({ name: 'legacy', resources: ['legacy/app/*'] })

    // JSON: not ok, no result, the text under its own name.
    const json = await admin('workload', 'get', '--name', 'legacy', '--json')
    expect(json.code).toBe(5)
    const answer = JSON.parse(json.stdout) as Record<string, unknown>
    expect(answer).not.toHaveProperty('result')
    expect(answer).toMatchObject({ ok: false, action: 'workload get' })
    expect(jsonError(json)).toMatchObject({
      code: 'ERR_KBS_WORKLOAD_UNUSABLE',
      details: { workload: 'legacy', version: 1, reason: 'ERR_KBS_WORKLOAD_INTEGRITY' },
    })
    const stored = answer['unauthenticatedDefinition'] as string
    expect(stored).toBe(shown)

    // Reviewed, it is put again: version 2, authenticated; the guest gets its secret.
    await writeFile(at('legacy.json'), stored)
    const again = await admin(
      ...['workload', 'put', '--name', 'legacy', '--definition', at('legacy.json'), '--json'],
    )
    expect(again.code, again.stdout + again.stderr).toBe(0)
    expect(JSON.parse(again.stdout)).toMatchObject({ result: { name: 'legacy', version: 2 } })
    const got = await admin('workload', 'get', '--name', 'legacy', '--json')
    expect(got.code).toBe(0)
    expect(JSON.parse(got.stdout)).toMatchObject({
      ok: true,
      result: { version: 2, definition: JSON.parse(stored) as unknown },
    })
    const fetched = await getResource()
    expect(fetched.code, fetched.stderr).toBe(0)
    expect(fetched.stdout).toBe('the legacy password')
  })

  it('escapes what the database writer put in the text: no terminal control reaches the operator', async () => {
    const put = await admin(
      ...[
        'workload',
        'put',
        '--name',
        'hostile',
        '--tee',
        'snp',
        '--initdata',
        at('initdata.toml'),
      ],
      ...['--resource', 'hostile/app/*', '--snp-measurement', SIMULATOR_SNP_MEASUREMENT_HEX],
    )
    expect(put.code, put.stderr).toBe(0)
    // ESC, CSI (C1), a right-to-left override, a zero-width space, a line separator, CR.
    const hostile = '\u001b[2J\u009b31m\u202e\u200b\u2028\r'
    behindTheKbs(
      `UPDATE workload_version SET definition = '{"name":"hostile","cel":"${hostile}"}' WHERE name = 'hostile'`,
    )
    const text = await admin('workload', 'get', '--name', 'hostile')
    expect(text.code).toBe(5)
    expect(text.stderr).toMatch(/does not authenticate/)
    expect(text.stdout).toContain('"cel":"\\u001b[2J\\u009b31m\\u202e\\u200b\\u2028\\u000d"')
    expect(text.stdout + text.stderr).not.toMatch(TERMINAL_CONTROL)
    const json = await admin('workload', 'get', '--name', 'hostile', '--json')
    expect(json.code).toBe(5)
    expect(json.stdout).not.toMatch(TERMINAL_CONTROL)
    // The same value, spelt safely.
    const value = (JSON.parse(json.stdout) as { unauthenticatedDefinition: string })
      .unauthenticatedDefinition
    expect(value).toBe(`{"name":"hostile","cel":"${hostile}"}`)
  })

  it('workload put --definition takes the whole definition: no other definition option, a JSON object only', async () => {
    await writeFile(at('array.json'), '[]')
    await writeFile(at('broken.json'), '{"name":')
    const both = await admin(
      ...['workload', 'put', '--name', 'x', '--definition', at('array.json'), '--tee', 'snp'],
      '--json',
    )
    expect(both.code).toBe(2)
    expect(jsonError(both)).toMatchObject({
      code: 'ERR_OPTION_NOT_APPLICABLE',
      details: { option: '--tee' },
    })
    for (const file of ['array.json', 'broken.json']) {
      const run = await admin('workload', 'put', '--name', 'x', '--definition', at(file), '--json')
      expect(run.code).toBe(3)
      expect(jsonError(run).code).toBe('ERR_KBS_WORKLOAD_DEFINITION_FILE')
    }
    // The KBS validates it as any definition, and the name in it must be the path's.
    await writeFile(at('other-name.json'), '{"name":"other"}')
    const named = await admin(
      ...['workload', 'put', '--name', 'x', '--definition', at('other-name.json'), '--json'],
    )
    expect(named.code).toBe(2)
    expect(jsonError(named).code).toBe('ERR_KBS_ADMIN_REQUEST')
  })

  it('a 401 is still the admin key: exit 4, not the unusable workload', async () => {
    await kbsKeygen(at('other'))
    const stranger = await runInProcess([
      ...['kbs', 'admin', '--url', kbs.kbs.url, '--ca', at('kbs-data/tls/kbs-cert.pem')],
      ...['--admin-key', at('other.key'), 'workload', 'get', '--name', 'hostile', '--json'],
    ])
    expect(stranger.code).toBe(4)
    expect(jsonError(stranger).code).toBe('ERR_KBS_ADMIN_REFUSED')
  })
})

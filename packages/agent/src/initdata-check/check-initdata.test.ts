/**
 * The init-data check against simulated guests whose reports are really signed and parsed: a match
 * on SEV-SNP and TDX, and every refusal (mismatch with the values and causes, a TEE launched
 * without init-data with and without the flag, a stale or foreign report, a TEE error, a
 * malformed document refused before any report is taken). Plus a property: any byte change to a
 * matching document is refused.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { UnavailableError, bytesToHex } from '@initguard/core'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import type { GuestTee } from '@initguard/tee'
import { rejected } from '@initguard/testkit'
import { ALLOW_UNBOUND_FLAG, checkInitdata } from './check-initdata.ts'
import type { InitdataInput } from './initdata-source.ts'
import { counted, tampered, temporaryGuestWorld } from './launched-guest-test-support.ts'

const DOCUMENT =
  'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = "[token_configs.kbs]\\nurl = \\"https://kbs.example:8080\\"\\n"\n'
const TDX_DOCUMENT = DOCUMENT.replace('sha256', 'sha384')

const world = temporaryGuestWorld('initguard-agent-check-')

const input = (text: string | Uint8Array): InitdataInput => ({
  bytes: typeof text === 'string' ? new TextEncoder().encode(text) : text,
  source: { kind: 'file', path: '/run/initdata.toml' },
})

describe('checkInitdata: a match', () => {
  it.each([
    ['snp', DOCUMENT],
    ['tdx', TDX_DOCUMENT],
  ] as const)('%s: the document the guest was launched with is verified', async (tee, text) => {
    const guest = counted(await world.guests.launch(text, tee))
    const verified = await checkInitdata(guest, input(text))
    expect(verified.tee).toBe(tee)
    expect(verified.simulated).toBe(true)
    expect(verified.text).toBe(text)
    expect(verified.source).toEqual({ kind: 'file', path: '/run/initdata.toml' })
    expect(Buffer.from(verified.document.bytes).toString()).toBe(text)
    const document = parseInitdata(new TextEncoder().encode(text))
    expect(bytesToHex(verified.report.initDataField)).toBe(
      bytesToHex(bindingFor(tee, document.algorithm, document.digest).value),
    )
    expect(guest.reports).toBe(1)
  })

  it('asks for fresh random REPORT_DATA every time', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const a = await checkInitdata(guest, input(DOCUMENT))
    const b = await checkInitdata(guest, input(DOCUMENT))
    expect(a.report.reportData).toHaveLength(64)
    expect(bytesToHex(a.report.reportData)).not.toBe(bytesToHex(b.report.reportData))
  })
})

describe('checkInitdata: refusals', () => {
  it('a document changed after launch: ERR_AGENT_INITDATA_MISMATCH with both values and the causes', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const changed = DOCUMENT.slice(0, -1) // the final newline lost
    const error = await rejected(checkInitdata(guest, input(changed)))
    expect(error.code).toBe('ERR_AGENT_INITDATA_MISMATCH')
    expect(error.category).toBe('expectation')
    const launched = parseInitdata(new TextEncoder().encode(DOCUMENT))
    const given = parseInitdata(new TextEncoder().encode(changed))
    const found = bytesToHex(bindingFor('snp', 'sha256', launched.digest).value)
    const expected = bytesToHex(bindingFor('snp', 'sha256', given.digest).value)
    expect(error.details).toMatchObject({ tee: 'snp', field: 'SEV-SNP HOST_DATA', expected, found })
    expect(error.message).toContain(found)
    expect(error.message).toContain(expected)
    expect(error.details['causes']).toEqual(['final-newline-missing'])
    expect(error.hint).toContain('final newline')
  })

  it('another, self-consistent document: refused on TDX too', async () => {
    const guest = await world.guests.launch(TDX_DOCUMENT, 'tdx')
    const other = TDX_DOCUMENT.replace('kbs.example', 'evil.example')
    const error = await rejected(checkInitdata(guest, input(other)))
    expect(error.code).toBe('ERR_AGENT_INITDATA_MISMATCH')
    expect(error.details['field']).toBe('TDX MRCONFIGID')
    expect(error.details['causes']).toEqual([])
    expect(error.hint).toContain('changed after launch')
  })

  it('a mismatch is refused even when running unbound is allowed', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const other = DOCUMENT.replace('kbs.example', 'evil.example')
    const error = await rejected(checkInitdata(guest, input(other), { allowUnbound: true }))
    expect(error.code).toBe('ERR_AGENT_INITDATA_MISMATCH')
  })

  const launchedWithout = (): Promise<GuestTee> => world.guests.launchBare()

  it('a TEE launched without init-data (field all zeros): ERR_AGENT_INITDATA_NOT_BOUND', async () => {
    const error = await rejected(checkInitdata(await launchedWithout(), input(DOCUMENT)))
    expect(error.code).toBe('ERR_AGENT_INITDATA_NOT_BOUND')
    expect(error.category).toBe('expectation')
    expect(error.hint).toContain(ALLOW_UNBOUND_FLAG)
  })

  it('…and with the explicit flag: UnboundInitdata naming the flag', async () => {
    const result = await checkInitdata(await launchedWithout(), input(DOCUMENT), {
      allowUnbound: true,
    })
    expect('unbound' in result && result.unbound).toBe(true)
    if (!('unbound' in result)) throw new Error('expected an unbound result')
    expect(result.reason).toContain(ALLOW_UNBOUND_FLAG)
    expect(result.text).toBe(DOCUMENT)
  })

  it('a stale report (REPORT_DATA not the one asked for): ERR_AGENT_REPORT_NOT_FRESH', async () => {
    const guest = tampered(await world.guests.launch(DOCUMENT), (r) => ({
      ...r,
      reportData: new Uint8Array(64),
    }))
    const error = await rejected(checkInitdata(guest, input(DOCUMENT)))
    expect(error.code).toBe('ERR_AGENT_REPORT_NOT_FRESH')
    expect(error.category).toBe('verification')
  })

  it('a report of another TEE: ERR_AGENT_REPORT_TEE', async () => {
    const guest = tampered(await world.guests.launch(DOCUMENT), (r) => ({ ...r, tee: 'tdx' }))
    expect((await rejected(checkInitdata(guest, input(DOCUMENT)))).code).toBe(
      'ERR_AGENT_REPORT_TEE',
    )
  })

  it('an init-time field of the wrong length: ERR_AGENT_REPORT_FIELD_LENGTH', async () => {
    const guest = tampered(await world.guests.launch(DOCUMENT), (r) => ({
      ...r,
      initDataField: r.initDataField.subarray(0, 16),
    }))
    expect((await rejected(checkInitdata(guest, input(DOCUMENT)))).code).toBe(
      'ERR_AGENT_REPORT_FIELD_LENGTH',
    )
  })

  it('a TEE that cannot report: its own error and code', async () => {
    const guest: GuestTee = {
      ...counted(await world.guests.launch(DOCUMENT)),
      report: () =>
        Promise.reject(new UnavailableError('ERR_TSM_UNAVAILABLE', 'configfs-tsm is not mounted')),
    }
    const error = await rejected(checkInitdata(guest, input(DOCUMENT)))
    expect(error.code).toBe('ERR_TSM_UNAVAILABLE')
  })

  it('a TEE kind with no init-time field: ERR_AGENT_INITDATA_UNBINDABLE, no report taken', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const cca = Object.assign(Object.create(guest) as GuestTee, { tee: 'cca' })
    const error = await rejected(checkInitdata(cca, input(DOCUMENT)))
    expect(error.code).toBe('ERR_AGENT_INITDATA_UNBINDABLE')
    expect(guest.reports).toBe(0)
    // The hint must not offer the unbound flag as a way out: it is refused with the flag too.
    expect(error.hint).toContain(`${ALLOW_UNBOUND_FLAG} does not help here`)
    const flagged = await rejected(checkInitdata(cca, input(DOCUMENT), { allowUnbound: true }))
    expect(flagged.code).toBe('ERR_AGENT_INITDATA_UNBINDABLE')
  })

  it('a malformed document is refused before any report is taken', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const error = await rejected(checkInitdata(guest, input('version = "0.2.0"\n')))
    expect(error.code).toBe('ERR_INITDATA_VERSION')
    expect(error.category).toBe('malformed')
    expect(guest.reports).toBe(0)
  })
})

describe('checkInitdata: property', () => {
  it('any byte changed, inserted or removed in a matching document is refused', async () => {
    const guest = counted(await world.guests.launch(DOCUMENT))
    const bytes = new TextEncoder().encode(DOCUMENT)
    const edit = fc.oneof(
      fc.record({
        kind: fc.constant('replace' as const),
        at: fc.nat(bytes.length - 1),
        delta: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({
        kind: fc.constant('insert' as const),
        at: fc.nat(bytes.length),
        delta: fc.nat(255),
      }),
      fc.record({
        kind: fc.constant('remove' as const),
        at: fc.nat(bytes.length - 1),
        delta: fc.constant(0),
      }),
    )
    await fc.assert(
      fc.asyncProperty(edit, async ({ kind, at, delta }) => {
        const changed = [...bytes]
        if (kind === 'replace') changed[at] = ((changed[at] ?? 0) + delta) % 256
        else if (kind === 'insert') changed.splice(at, 0, delta)
        else changed.splice(at, 1)
        const error = await rejected(checkInitdata(guest, input(Uint8Array.from(changed))))
        expect(['ERR_AGENT_INITDATA_MISMATCH', 'malformed']).toContain(
          error.category === 'malformed' ? 'malformed' : error.code,
        )
      }),
      { numRuns: 60 },
    )
  })
})

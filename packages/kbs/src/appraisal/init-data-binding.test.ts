import { describe, expect, it } from 'vitest'
import { bindingFor, parseInitdata } from '@initguard/initdata'
import { checkInitData } from './init-data-binding.ts'
import type { VerifiedEvidence } from './verified-evidence.ts'

/** An init-data document whose aa.toml is `aaToml`, and SNP evidence launched with it. */
function launched(aaToml: string): Parameters<typeof checkInitData> {
  const body = `version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n"aa.toml" = '''\n${aaToml}'''\n`
  const document = parseInitdata(new TextEncoder().encode(body))
  // Only the fields checkInitData reads: the TEE and its init-data field.
  const verified = {
    tee: 'snp',
    initDataField: bindingFor('snp', 'sha256', document.digest).value,
    initDataFieldName: 'HOST_DATA',
  } as unknown as VerifiedEvidence
  return [{ format: 'toml', body }, verified]
}

describe('checkInitData claims', () => {
  it('reads aa.toml into claims, as Trustee does', () => {
    const outcome = checkInitData(...launched('[eventlog_config]\nretries = 1e3\n'))
    expect(outcome).toMatchObject({
      ok: true,
      claims: { 'aa.toml': { eventlog_config: { retries: 1000 } } },
    })
  })

  it('refuses a value smol-toml reads differently from the Rust toml crate Trustee parses with', () => {
    // smol-toml would claim Infinity and 1979-03-02, which Trustee's toml refuses; a time without
    // seconds is TOML 1.1, which the guest's older parsers refuse (Trustee's current one reads it).
    for (const [value, words] of [
      ['x = 1e400', 'Infinity'],
      ['x = 1979-02-30', 'does not exist'],
      ['x = 07:32:00.0001', 'millisecond'],
      ['x = 07:32', 'TOML 1.1'],
    ] as const) {
      const outcome = checkInitData(...launched(`[eventlog_config]\n${value}\n`))
      expect(outcome, value).toMatchObject({
        ok: false,
        refusal: { status: 403, code: 'ERR_KBS_INITDATA_CLAIMS' },
      })
      expect(!outcome.ok && outcome.refusal.detail, value).toContain(words)
      expect(!outcome.ok && outcome.refusal.detail, value).toContain('line 2, column 5')
    }
  })

  it('still refuses a value that is not TOML', () => {
    const outcome = checkInitData(...launched('[eventlog_config\n'))
    expect(outcome).toMatchObject({ ok: false, refusal: { code: 'ERR_KBS_INITDATA_CLAIMS' } })
    expect(!outcome.ok && outcome.refusal.detail).toContain(
      'is not valid TOML at line 1, column 17: ',
    )
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { generateSelfSignedTls } from '@initguard/kbs'
import { thrown } from '@initguard/testkit'
import { kbsConfigFromInitdata } from './kbs-config.ts'

const NOW = new Date('2026-06-01T00:00:00Z')
const CERT = generateSelfSignedTls('127.0.0.1', NOW).certPem
const OTHER_CERT = generateSelfSignedTls('127.0.0.1', NOW).certPem
const URL = 'https://127.0.0.1:8443'

const aaToml = (url: string, cert?: string, extra = ''): string =>
  `[token_configs.kbs]\nurl = "${url}"\n${cert === undefined ? '' : `cert = '''\n${cert}'''\n`}${extra}`
const cdhToml = (url: string, cert?: string, extra = ''): string =>
  `[kbc]\nname = "cc_kbc"\nurl = "${url}"\n${cert === undefined ? '' : `kbs_cert = '''\n${cert}'''\n`}${extra}`
const data = (entries: Record<string, string>): Map<string, string> =>
  new Map(Object.entries(entries))
const code = (entries: Record<string, string>): string =>
  thrown(() => kbsConfigFromInitdata(data(entries))).code

describe('the KBS comes from the verified aa.toml and cdh.toml', () => {
  it('both naming the same KBS and certificate: pinned, named by both', () => {
    const config = kbsConfigFromInitdata(
      data({ 'aa.toml': aaToml(`${URL}/`, CERT), 'cdh.toml': cdhToml(URL, CERT) }),
    )
    expect(config).toEqual({
      kind: 'kbs',
      endpoint: {
        url: URL,
        pinnedCertificatePem: CERT,
        teeKeyKind: 'P-256',
        namedBy: ['aa.toml', 'cdh.toml'],
      },
      warnings: [],
    })
  })

  it('only cdh.toml, with tee_key_algorithm from nowhere: P-256', () => {
    const config = kbsConfigFromInitdata(data({ 'cdh.toml': cdhToml(URL, CERT) }))
    expect(config.kind === 'kbs' && config.endpoint.namedBy).toEqual(['cdh.toml'])
  })

  it('aa.toml tee_key_algorithm chooses the TEE key; an unknown one is refused', () => {
    const rsa = kbsConfigFromInitdata(
      data({ 'aa.toml': aaToml(URL, CERT, 'tee_key_algorithm = "RSA-OAEP-256"\n') }),
    )
    expect(rsa.kind === 'kbs' && rsa.endpoint.teeKeyKind).toBe('RSA-2048')
    expect(code({ 'aa.toml': aaToml(URL, CERT, 'tee_key_algorithm = "RSA1_5"\n') })).toBe(
      'ERR_AGENT_KBS_TEE_KEY_ALGORITHM',
    )
  })

  it('plain http only when the URL says so, and then without a certificate', () => {
    const config = kbsConfigFromInitdata(data({ 'aa.toml': aaToml('http://10.0.0.1:8080') }))
    expect(config.kind === 'kbs' && config.endpoint).toMatchObject({ url: 'http://10.0.0.1:8080' })
    expect(config.kind === 'kbs' && 'pinnedCertificatePem' in config.endpoint).toBe(false)
    expect(code({ 'aa.toml': aaToml('http://10.0.0.1:8080', CERT) })).toBe(
      'ERR_AGENT_KBS_CERT_UNUSED',
    )
  })

  it('https without a certificate: refused, saying where to put it', () => {
    const error = thrown(() => kbsConfigFromInitdata(data({ 'cdh.toml': cdhToml(URL) })))
    expect(error.code).toBe('ERR_AGENT_KBS_CERT_MISSING')
    expect(error.category).toBe('expectation')
    expect(error.hint).toMatch(/\[kbc\] kbs_cert/)
  })

  it('two files naming different URLs or certificates: refused', () => {
    expect(
      code({ 'aa.toml': aaToml(URL, CERT), 'cdh.toml': cdhToml('https://127.0.0.2:8443', CERT) }),
    ).toBe('ERR_AGENT_KBS_CONFIG_CONFLICT')
    expect(code({ 'aa.toml': aaToml(URL, CERT), 'cdh.toml': cdhToml(URL, OTHER_CERT) })).toBe(
      'ERR_AGENT_KBS_CONFIG_CONFLICT',
    )
  })

  it('a certificate that is not exactly one PEM certificate: refused', () => {
    expect(code({ 'aa.toml': aaToml(URL, `${CERT}${OTHER_CERT}`) })).toBe('ERR_AGENT_KBS_CERT')
    expect(code({ 'aa.toml': aaToml(URL, CERT.replace(/[A-Za-z]{8}\n/, '\n')) })).toBe(
      'ERR_AGENT_KBS_CERT',
    )
  })

  it('wrong types and bad URLs are refused, naming the key', () => {
    const error = thrown(() =>
      kbsConfigFromInitdata(data({ 'aa.toml': '[token_configs.kbs]\nurl = 8443\n' })),
    )
    expect(error.code).toBe('ERR_AGENT_CONFIG_TYPE')
    expect(error.message).toMatch(/token_configs\.kbs\.url/)
    expect(code({ 'aa.toml': 'token_configs = 1\n' })).toBe('ERR_AGENT_CONFIG_TYPE')
    expect(code({ 'aa.toml': '[token_configs.kbs]\ncert = "x"\n' })).toBe('ERR_AGENT_CONFIG_TYPE')
    expect(code({ 'cdh.toml': '[kbc]\nname = "cc_kbc"\nkbs_cert = true\nurl = "x"\n' })).toBe(
      'ERR_AGENT_CONFIG_TYPE',
    )
    expect(code({ 'aa.toml': aaToml('ftp://kbs.example', CERT) })).toBe('ERR_AGENT_KBS_URL')
    expect(code({ 'aa.toml': aaToml('https://u:p@kbs.example', CERT) })).toBe('ERR_AGENT_KBS_URL')
    expect(code({ 'aa.toml': aaToml('https://kbs.example/?x=1', CERT) })).toBe('ERR_AGENT_KBS_URL')
    expect(code({ 'cdh.toml': '[kbc\n' })).toBe('ERR_AGENT_CONFIG_TOML')
  })

  it('a KBC other than cc_kbc is refused', () => {
    expect(code({ 'cdh.toml': '[kbc]\nname = "offline_fs_kbc"\n' })).toBe(
      'ERR_AGENT_KBC_UNSUPPORTED',
    )
  })

  it('unknown keys are tolerated but listed', () => {
    const config = kbsConfigFromInitdata(
      data({
        'aa.toml': aaToml(URL, CERT, 'certificate = "typo"\n'),
        'cdh.toml': `${cdhToml(URL, CERT)}\n[[credentials]]\nresource_uri = "kbs:///a/b/c"\npath = "/run/x"\n`,
      }),
    )
    expect(config.warnings).toEqual([
      expect.stringMatching(/aa\.toml: unknown key "token_configs\.kbs\.certificate"/),
      expect.stringMatching(/cdh\.toml: \[\[credentials\]\] are not fetched/),
    ])
  })

  it('no KBS named: none, with the reason', () => {
    const config = kbsConfigFromInitdata(data({ 'cdh.toml': '[image]\n', 'policy.rego': '' }))
    expect(config.kind === 'none' && config.reason).toMatch(/names no KBS/)
    expect(kbsConfigFromInitdata(data({ 'cdh.toml': '[kbc]\nname = "cc_kbc"\n' })).kind).toBe(
      'none',
    )
  })

  it('any aa.toml text either configures a KBS, configures none, or is refused with a code', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), fc.string({ maxLength: 200 }), (aa, cdh) => {
        try {
          const config = kbsConfigFromInitdata(data({ 'aa.toml': aa, 'cdh.toml': cdh }))
          if (config.kind === 'kbs') expect(config.endpoint.url).toMatch(/^https?:\/\//)
        } catch (error) {
          expect(isInitguardError(error)).toBe(true)
        }
      }),
      { numRuns: 300 },
    )
  })
})

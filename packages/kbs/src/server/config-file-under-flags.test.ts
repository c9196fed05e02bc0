/**
 * A config file value that a flag replaces is still checked: a malformed file is refused whatever
 * the flags, so it cannot lie unnoticed until the day the flag is dropped.
 */
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { thrown } from '@initguard/testkit'
import { resolveKbsServerConfig, type KbsServeFlags } from './config.ts'

const flags: KbsServeFlags = {
  dataDir: '/data',
  listen: '127.0.0.1:8443',
  adminPublicKey: ['/keys/admin.pub'],
  insecureHttp: true,
}

/** Each file key with the flag that replaces it, and a malformed value for it. */
const CASES: readonly {
  readonly key: string
  readonly value: unknown
  readonly flag: Partial<KbsServeFlags>
}[] = [
  { key: 'data-dir', value: 5, flag: {} },
  { key: 'listen', value: 'not an address', flag: {} },
  { key: 'listen', value: 7, flag: {} },
  { key: 'trust-sim', value: ['a'], flag: { trustSim: '/sim' } },
  { key: 'collateral', value: false, flag: { collateral: '/c.json' } },
  { key: 'master-key-file', value: 1, flag: { masterKeyFile: '/k' } },
  { key: 'tls-cert', value: 1, flag: { tlsCert: '/c.pem', tlsKey: '/k.pem', insecureHttp: false } },
  { key: 'admin-audience', value: '', flag: { adminAudience: 'kbs-admin' } },
  { key: 'amd-crl', value: 'nonsense', flag: { amdCrl: ['vcek/Milan=/x.crl'] } },
  { key: 'database', value: 'mysql://x', flag: { database: 'postgres://u@127.0.0.1/db' } },
]

describe('a config file value replaced by a flag', () => {
  for (const { key, value, flag } of CASES)
    it(`is still refused when malformed: ${key} = ${JSON.stringify(value)}`, () => {
      const error = thrown(() =>
        resolveKbsServerConfig(
          { ...flags, ...flag },
          { document: { [key]: value }, path: '/etc/kbs.toml' },
        ),
      )
      expect(isInitguardError(error) && error.code).toMatch(/^ERR_KBS_CONFIG_VALUE$|^ERR_KBS_/)
      expect(error.message).toContain(key)
    })

  it('is replaced by the flag when well formed', () => {
    const config = resolveKbsServerConfig(
      { ...flags, dataDir: '/from-flag', listen: '127.0.0.1:9000' },
      { document: { 'data-dir': '/from-file', listen: '127.0.0.1:8443' }, path: '/etc/kbs.toml' },
    )
    expect(config.dataDir).toBe('/from-flag')
    expect(config.listen).toMatchObject({ port: 9000 })
  })

  it('leaves the environment to the flag that replaces it: an empty or stale variable under --database', () => {
    for (const databaseEnv of ['', 'mysql://stale'])
      expect(
        resolveKbsServerConfig({ ...flags, database: 'sqlite', databaseEnv }).database,
      ).toEqual({ kind: 'sqlite' })
  })
})

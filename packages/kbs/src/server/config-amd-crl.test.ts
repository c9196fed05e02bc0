/**
 * `--amd-crl KIND/PRODUCT=FILE` and the config file's `amd-crl`: exactly the six CRLs KDS serves,
 * spelt as KDS spells them, each once, with a path; anything else refused (exit 2) naming where.
 */
import { describe, expect, it } from 'vitest'
import { thrown } from '@initguard/testkit'
import { resolveKbsServerConfig } from './config.ts'

const flags = { dataDir: '/data', listen: '127.0.0.1:8443', adminPublicKey: ['/keys/admin.pub'] }
const file = (document: Record<string, unknown>) => ({ document, path: '/etc/kbs/kbs.toml' })

describe('amd-crl', () => {
  it('is absent by default (CRLs come from AMD KDS)', () => {
    expect(resolveKbsServerConfig(flags)).not.toHaveProperty('amdCrlFiles')
  })

  it('maps each KIND/PRODUCT to its file: flags as given, the file relative to it, flags winning', () => {
    const fromFlags = resolveKbsServerConfig({
      ...flags,
      amdCrl: ['vcek/Milan=milan.crl', 'vlek/Turin=/crl/turin-vlek.crl'],
    })
    expect(fromFlags.amdCrlFiles).toEqual({
      'vcek/Milan': 'milan.crl',
      'vlek/Turin': '/crl/turin-vlek.crl',
    })
    const fromFile = resolveKbsServerConfig(
      flags,
      file({ 'amd-crl': ['vcek/Genoa=crl/genoa.crl', 'vlek/Genoa=genoa=vlek.crl'] }),
    )
    expect(fromFile.amdCrlFiles).toEqual({
      'vcek/Genoa': '/etc/kbs/crl/genoa.crl',
      'vlek/Genoa': '/etc/kbs/genoa=vlek.crl',
    })
    expect(
      resolveKbsServerConfig(flags, file({ 'amd-crl': 'vcek/Turin=t.crl' })).amdCrlFiles,
    ).toEqual({
      'vcek/Turin': '/etc/kbs/t.crl',
    })
    const both = resolveKbsServerConfig(
      { ...flags, amdCrl: ['vcek/Milan=m.crl'] },
      file({ 'amd-crl': ['vcek/Genoa=g.crl'] }),
    )
    expect(both.amdCrlFiles).toEqual({ 'vcek/Milan': 'm.crl' })
  })

  it('refuses a malformed value, another spelling, an empty path or a CRL given twice', () => {
    for (const bad of [
      'milan.crl',
      'vcek/Milan',
      'vcek/Milan=',
      'VCEK/Milan=m.crl',
      'vcek/milan=m.crl',
      'vcek/v1/Milan=m.crl',
      'ask/Milan=m.crl',
      'vcek/Bergamo=m.crl',
      ' vcek/Milan=m.crl',
      '=m.crl',
    ]) {
      const error = thrown(() => resolveKbsServerConfig({ ...flags, amdCrl: [bad] }))
      expect([error.code, error.category, error.message.startsWith('--amd-crl ')], bad).toEqual([
        'ERR_KBS_CONFIG_VALUE',
        'usage',
        true,
      ])
    }
    for (const bad of [42, [1], [''], { 'vcek/Milan': 'm.crl' }, ['vcek/Milan=a\0b']]) {
      const error = thrown(() => resolveKbsServerConfig(flags, file({ 'amd-crl': bad })))
      expect(error.code, JSON.stringify(bad)).toBe('ERR_KBS_CONFIG_VALUE')
      expect(error.message).toMatch(/^amd-crl/)
    }
    const twice = thrown(() =>
      resolveKbsServerConfig({ ...flags, amdCrl: ['vcek/Milan=a.crl', 'vcek/Milan=b.crl'] }),
    )
    expect([twice.code, twice.message]).toEqual([
      'ERR_KBS_CONFIG_VALUE',
      '--amd-crl: the vcek/Milan CRL is given twice',
    ])
  })
})

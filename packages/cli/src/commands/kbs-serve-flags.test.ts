/**
 * `kbs serve`'s options become the server configuration's flags: every option is read with the
 * kind it is declared with (reading `--database` as a path made every start an internal error).
 */
import { describe, expect, it } from 'vitest'
import { parseCommandArgs } from '../command.ts'
import { kbsServeCommand } from './kbs-serve.ts'
import { kbsServeFlags } from './kbs-serve-run.ts'

const parse = (argv: readonly string[]) => parseCommandArgs('initguard kbs', kbsServeCommand, argv)

describe('kbsServeFlags', () => {
  it('reads every declared option, the database from the flag or INITGUARD_KBS_DATABASE', () => {
    const url = 'postgres://kbs:secret@db:5432/kbs?sslmode=verify-full'
    const argv = [
      ...['--data-dir', 'd', '--listen', '0.0.0.0:8443', '--tls-cert', 'c', '--tls-key', 'k'],
      ...['--admin-public-key', 'a1', '--admin-public-key', 'a2', '--trust-sim', 's'],
      ...['--collateral', 'col', '--master-key-file', 'm', '--config', 'kbs.toml'],
      ...['--amd-crl', 'vcek/Milan=m.crl', '--amd-crl', 'vlek/Genoa=g.crl'],
      ...['--admin-audience', 'https://kbs.prod.example:8443'],
    ]
    expect(kbsServeFlags(parse([...argv, '--database', url]), {})).toEqual({
      dataDir: 'd',
      listen: '0.0.0.0:8443',
      tlsCert: 'c',
      tlsKey: 'k',
      adminPublicKey: ['a1', 'a2'],
      trustSim: 's',
      collateral: 'col',
      amdCrl: ['vcek/Milan=m.crl', 'vlek/Genoa=g.crl'],
      masterKeyFile: 'm',
      adminAudience: 'https://kbs.prod.example:8443',
      database: url,
      config: 'kbs.toml',
      insecureHttp: false,
    })
    const fromEnv = kbsServeFlags(parse(['--insecure-http']), { INITGUARD_KBS_DATABASE: url })
    expect(fromEnv).toEqual({ adminPublicKey: [], databaseEnv: url, insecureHttp: true })
    expect(kbsServeFlags(parse(['--database-insecure-transport']), {})).toEqual({
      adminPublicKey: [],
      insecureHttp: false,
      databaseInsecureTransport: true,
    })
  })
})

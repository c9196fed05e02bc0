/**
 * What `initguard kbs serve` does once its options are parsed: load the configuration, start the
 * KBS (`startKbs`), say where it listens and how to pin it, and stop on SIGINT/SIGTERM.
 *
 * @module
 */
import {
  KBS_DATABASE_ENV,
  KBS_MASTER_KEY_ENV,
  loadKbsServerConfig,
  startKbs,
  type KbsServeFlags,
  type KbsServices,
} from '@initguard/kbs'
import { DEFAULT_ADMIN_AUDIENCE } from '@initguard/kbs-protocol'
import type { CliIo } from '../cli-io.ts'
import { optionGiven, parsedList, parsedOption, type ParsedArgs } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { noArguments } from './kbs-keygen.ts'
import { AMD_CRL_VALUE, DATABASE_VALUE, LISTEN_VALUE } from './kbs-serve.ts'
import { ADMIN_AUDIENCE_VALUE } from './kbs-option-values.ts'
import { stopSignal } from './stop-signal.ts'

/**
 * The `kbs serve` options as the server configuration's flags, with the database from `env`
 * (`INITGUARD_KBS_DATABASE`) when it is set there. Also used by the deployment tests to resolve
 * the Kubernetes manifests' container arguments exactly as the KBS will.
 */
export function kbsServeFlags(
  args: ParsedArgs,
  env: Readonly<Record<string, string | undefined>>,
): KbsServeFlags {
  noArguments(args.positionals, 'kbs serve')
  const opt = (name: string): string | undefined => parsedOption(args, name, PATH_VALUE)
  const dataDir = opt('data-dir')
  const listen = parsedOption(args, 'listen', LISTEN_VALUE)
  const tlsCert = opt('tls-cert')
  const tlsKey = opt('tls-key')
  const trustSim = opt('trust-sim')
  const collateral = opt('collateral')
  const amdCrl = parsedList(args, 'amd-crl', AMD_CRL_VALUE)
  const masterKeyFile = opt('master-key-file')
  const configFile = opt('config')
  const database = parsedOption(args, 'database', DATABASE_VALUE)
  const databaseEnv = env[KBS_DATABASE_ENV]
  const adminAudience = parsedOption(args, 'admin-audience', ADMIN_AUDIENCE_VALUE)
  return {
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(listen === undefined ? {} : { listen }),
    ...(tlsCert === undefined ? {} : { tlsCert }),
    ...(tlsKey === undefined ? {} : { tlsKey }),
    adminPublicKey: parsedList(args, 'admin-public-key', PATH_VALUE),
    ...(adminAudience === undefined ? {} : { adminAudience }),
    ...(trustSim === undefined ? {} : { trustSim }),
    ...(collateral === undefined ? {} : { collateral }),
    ...(amdCrl.length === 0 ? {} : { amdCrl }),
    ...(masterKeyFile === undefined ? {} : { masterKeyFile }),
    ...(database === undefined ? {} : { database }),
    ...(databaseEnv === undefined ? {} : { databaseEnv }),
    ...(configFile === undefined ? {} : { config: configFile }),
    insecureHttp: optionGiven(args, 'insecure-http'),
    ...(optionGiven(args, 'database-insecure-transport')
      ? { databaseInsecureTransport: true }
      : {}),
  }
}

/**
 * Where the data is and what this start migrated: the record an upgrade leaves of which replica
 * migrated the database, and to what (the other replicas say nothing was left to migrate).
 */
function databaseLine(database: KbsServices['database']): string {
  const { location, appliedMigrations } = database
  return appliedMigrations.length > 0
    ? `database ${location}: migrated now (${appliedMigrations.join(', ')})`
    : `database ${location}: nothing to migrate`
}

/** Run the KBS until SIGINT or SIGTERM; returns the exit code. */
export async function runKbsServe(args: ParsedArgs, io: CliIo): Promise<number> {
  const config = await loadKbsServerConfig(kbsServeFlags(args, process.env))
  const masterKeyEnv = process.env[KBS_MASTER_KEY_ENV]
  const kbs = await startKbs(config, {
    ...(masterKeyEnv === undefined ? {} : { masterKeyEnv }),
    // This process serves one KBS: its event-loop lag, heap and RSS are the KBS's.
    processMetrics: true,
  })
  const { tls } = kbs
  for (const warning of tls?.warnings ?? []) io.stderr.write(`warning: ${warning}\n`)
  io.stderr.write(
    [
      `initguard KBS listening on ${kbs.url}`,
      databaseLine(kbs.services.database),
      ...(tls === undefined
        ? ['warning: plain HTTP (--insecure-http): cookies and tokens travel unencrypted']
        : [
            `TLS certificate ${tls.certFile}${tls.generated ? ' (generated now)' : ''}: give it to clients (kbs admin --ca, aa.toml/cdh.toml kbs_cert)`,
            `TLS SPKI pin (SHA-256, base64): ${tls.spkiPin}`,
          ]),
      `admin audience: ${JSON.stringify(config.adminAudience)}${config.adminAudience === DEFAULT_ADMIN_AUDIENCE ? " (Trustee's default, the same on every KBS: give each KBS that shares an admin key its own with --admin-audience)" : ''}`,
      ...(config.database.kind === 'postgres' && config.database.insecureTransport === true
        ? [
            'warning: INSECURE DATABASE TRANSPORT (--database-insecure-transport / [postgres] insecure-transport): a remote PostgreSQL is reached without verified TLS',
          ]
        : []),
      ...(kbs.services.simulatedTrust
        ? [
            'warning: SIMULATED TRUST (--trust-sim): evidence from the TEE simulator is accepted; never use with real secrets',
          ]
        : []),
    ].join('\n') + '\n',
  )
  await stopSignal()
  await kbs.close()
  return 0
}

/**
 * What `initguard kbs serve` does once its options are parsed: load the configuration, the admin
 * keys and the TLS identity, build the services and the app, listen, and stop on SIGINT/SIGTERM.
 *
 * @module
 */
import { mkdir } from 'node:fs/promises'
import { readInput } from '@initguard/files'
import {
  buildKbsApp,
  ensureGeneratedTlsIdentity,
  listenKbs,
  loadKbsServerConfig,
  loadTlsIdentity,
  parseAdminPublicKey,
  type AdminPublicKey,
  type KbsServerConfig,
  type TlsIdentity,
} from '@initguard/kbs'
import type { CliIo } from '../cli-io.ts'
import { optionGiven, parsedList, parsedOption, type ParsedArgs } from '../command.ts'
import { PATH_VALUE } from '../option-values.ts'
import { noArguments } from './kbs-keygen.ts'
import { LISTEN_VALUE } from './kbs-serve.ts'
import { createKbsServices } from './kbs-wiring.ts'

async function adminKeysOf(config: KbsServerConfig): Promise<AdminPublicKey[]> {
  return Promise.all(
    config.adminPublicKeyFiles.map(async (file) => {
      const bytes = await readInput(file, { what: 'admin public key', maxSize: 64 * 1024 })
      return parseAdminPublicKey(new TextDecoder().decode(bytes), file)
    }),
  )
}

async function tlsOf(config: KbsServerConfig, now: Date): Promise<TlsIdentity | undefined> {
  switch (config.tls.mode) {
    case 'insecure-http':
      return undefined
    case 'files':
      return loadTlsIdentity(config.tls.certFile, config.tls.keyFile, config.listen.host)
    case 'generate':
      return ensureGeneratedTlsIdentity(config.dataDir, config.listen.host, now)
  }
}

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const stop = (signal: string): void => {
      process.off('SIGINT', stop)
      process.off('SIGTERM', stop)
      resolve(signal)
    }
    process.on('SIGINT', stop)
    process.on('SIGTERM', stop)
  })
}

/** Run the KBS until SIGINT or SIGTERM; returns the exit code. */
export async function runKbsServe(args: ParsedArgs, io: CliIo): Promise<number> {
  noArguments(args.positionals, 'kbs serve')
  const opt = (name: string): string | undefined => parsedOption(args, name, PATH_VALUE)
  const dataDir = opt('data-dir')
  const listen = parsedOption(args, 'listen', LISTEN_VALUE)
  const tlsCert = opt('tls-cert')
  const tlsKey = opt('tls-key')
  const trustSim = opt('trust-sim')
  const collateral = opt('collateral')
  const configFile = opt('config')
  const config = await loadKbsServerConfig({
    ...(dataDir === undefined ? {} : { dataDir }),
    ...(listen === undefined ? {} : { listen }),
    ...(tlsCert === undefined ? {} : { tlsCert }),
    ...(tlsKey === undefined ? {} : { tlsKey }),
    adminPublicKey: parsedList(args, 'admin-public-key', PATH_VALUE),
    ...(trustSim === undefined ? {} : { trustSim }),
    ...(collateral === undefined ? {} : { collateral }),
    ...(configFile === undefined ? {} : { config: configFile }),
    insecureHttp: optionGiven(args, 'insecure-http'),
  })
  const adminKeys = await adminKeysOf(config)
  await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
  const now = new Date()
  const tls = await tlsOf(config, now)
  const services = await createKbsServices(config, now)
  const app = await buildKbsApp({
    ...services,
    adminKeys,
    config,
    ...(tls === undefined ? {} : { tls }),
    clock: () => new Date(),
  })
  const listening = await listenKbs(app, config.listen)
  for (const warning of tls?.warnings ?? []) io.stderr.write(`warning: ${warning}\n`)
  io.stderr.write(
    [
      `initguard KBS listening on ${listening.url}`,
      ...(tls === undefined
        ? ['warning: plain HTTP (--insecure-http): cookies and tokens travel unencrypted']
        : [
            `TLS certificate ${tls.certFile}${tls.generated ? ' (generated now)' : ''}`,
            `TLS SPKI pin (SHA-256, base64): ${tls.spkiPin}`,
          ]),
      ...(services.simulatedTrust
        ? ['warning: SIMULATED TRUST (--trust-sim): never use with real secrets']
        : []),
    ].join('\n') + '\n',
  )
  await stopSignal()
  await app.close()
  await services.store.close()
  return 0
}

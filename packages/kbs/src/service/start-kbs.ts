/**
 * Start a KBS from its configuration: admin keys, TLS identity (generated on first run unless
 * given), the services, the Fastify app, the listening socket and the expired-session sweep. What
 * `initguard kbs serve` runs, and what the end-to-end tests and the benchmark start.
 *
 * @module
 */
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import type { LoggerOptions } from 'pino'
import { readInput } from '@initguard/files'
import { parseAdminPublicKey, type AdminPublicKey } from '../server/admin-auth.ts'
import { buildKbsApp } from '../server/app.ts'
import type { KbsServerConfig } from '../server/config.ts'
import { listenKbs } from '../server/listen.ts'
import { ensureDataDir } from '../storage/master-key.ts'
import {
  ensureGeneratedTlsIdentity,
  loadTlsIdentity,
  type TlsIdentity,
} from '../server/tls-identity.ts'
import { createKbsServices, type KbsServices, type KbsServicesOptions } from './kbs-services.ts'
import { warnOfUnusableWorkloads } from './unusable-workloads.ts'

/** How often expired sessions are removed. */
const SESSION_SWEEP_MS = 60_000

/** A running KBS. */
export interface RunningKbs {
  readonly url: string
  readonly port: number
  /** `undefined` only with `--insecure-http`. */
  readonly tls: TlsIdentity | undefined
  readonly services: KbsServices
  readonly app: FastifyInstance
  /** Stops listening, the sweep and the store. */
  close(): Promise<void>
}

/** Options for {@link startKbs} besides the configuration. */
export interface StartKbsOptions extends KbsServicesOptions {
  readonly logger?: LoggerOptions | FastifyBaseLogger
  /** The clock; default the system's. */
  readonly clock?: () => Date
  /**
   * How long `close()` lets requests in flight finish before it closes their connections;
   * default {@link KBS_CLOSE_GRACE_MS}.
   */
  readonly closeGraceMs?: number
  /** Export the process's own metrics too (see `KbsAppOptions.processMetrics`); default off. */
  readonly processMetrics?: boolean
}

/**
 * The default grace `close()` gives requests in flight: well inside Kubernetes' 30 s between
 * SIGTERM and SIGKILL, so the KBS always closes its database itself.
 */
export const KBS_CLOSE_GRACE_MS = 5000

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

/** Start the KBS `config` describes; it listens when this resolves. */
export async function startKbs(
  config: KbsServerConfig,
  options: StartKbsOptions = {},
): Promise<RunningKbs> {
  const clock = options.clock ?? ((): Date => new Date())
  const adminKeys = await adminKeysOf(config)
  await ensureDataDir(config.dataDir)
  const tls = await tlsOf(config, clock())
  const services = await createKbsServices(config, options)
  let app: FastifyInstance
  try {
    app = await buildKbsApp({
      ...services,
      adminKeys,
      config,
      ...(tls === undefined ? {} : { tls: { certPem: tls.certPem, keyPem: tls.keyPem } }),
      ...(options.logger === undefined ? {} : { logger: options.logger }),
      clock,
      processMetrics: options.processMetrics === true,
    })
  } catch (error) {
    await services.store.close()
    throw error
  }
  const { location, appliedMigrations } = services.database
  if (appliedMigrations.length > 0)
    app.log.info({ database: location, migrations: appliedMigrations }, 'migrated the database')
  await warnOfUnusableWorkloads(app.log, services.store.workloads)
  if (config.database.kind === 'postgres' && config.database.insecureTransport === true)
    app.log.warn(
      'insecure database transport (opted in): a remote PostgreSQL may be reached without verified TLS',
    )
  const sweep = setInterval(() => {
    services.store.sessions.deleteExpired().catch((error: unknown) => {
      app.log.error({ err: error }, 'removing expired sessions failed')
    })
  }, SESSION_SWEEP_MS)
  sweep.unref()
  const close = async (): Promise<void> => {
    clearInterval(sweep)
    // Idle keep-alive connections close at once (Fastify); a request still in flight (a slow
    // client, a stuck handler) gets the grace, then its connection is closed under it.
    const force = setTimeout(() => {
      app.server.closeAllConnections()
    }, options.closeGraceMs ?? KBS_CLOSE_GRACE_MS)
    try {
      await app.close()
    } finally {
      clearTimeout(force)
    }
    await services.store.close()
  }
  try {
    const listening = await listenKbs(app, config.listen)
    return { ...listening, tls, services, app, close }
  } catch (error) {
    await close()
    throw error
  }
}

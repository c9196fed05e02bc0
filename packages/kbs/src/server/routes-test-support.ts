/**
 * Shared set-up for the route tests (`routes-*.test.ts`): the real services (SQLite store, tokens,
 * appraiser, protocol functions) on a fresh data directory, built into the Fastify app with one
 * admin key and a fixed clock. Each test file calls {@link closeTestApps} after each test.
 *
 * @module
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import type { KbsStore } from '../ports.ts'
import { createKbsServices, type KbsServices } from '../service/kbs-services.ts'
import { testAdminKey, testAdminToken } from './admin-auth-test-support.ts'
import { buildKbsApp } from './app.ts'
import { resolveKbsServerConfig } from './config.ts'
import type { KbsServerConfig } from './config-types.ts'

/** The app's clock: every request sees this instant. */
export const now = new Date('2026-06-01T12:00:00Z')
/** The one admin key the app trusts. */
export const admin = testAdminKey('EdDSA')
/** The prefix of every problem `type` the KBS answers. */
export const PREFIX = 'https://github.com/confidential-containers/kbs/errors/'
const cleanups: (() => Promise<void>)[] = []

/** Closes every app, store and data directory made since the last call (newest first). */
export async function closeTestApps(): Promise<void> {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
}

/** The real services on a fresh data directory (offline: no collateral is fetched here). */
export async function testServices(bodyLimit?: string): Promise<{
  services: KbsServices
  config: ReturnType<typeof resolveKbsServerConfig>
}> {
  const root = await mkdtemp(join(tmpdir(), 'kbs-routes-'))
  cleanups.push(() => rm(root, { recursive: true, force: true }))
  const config = resolveKbsServerConfig(
    {
      dataDir: join(root, 'data'),
      listen: '127.0.0.1:0',
      adminPublicKey: ['admin.pub'],
      insecureHttp: true,
    },
    bodyLimit === undefined
      ? undefined
      : { document: { limits: { body: bodyLimit } }, path: 'kbs.toml' },
  )
  const made = await createKbsServices(config, { online: false })
  cleanups.push(() => made.store.close())
  return { services: made, config }
}

/**
 * The app on fresh real services. `store` wraps the real store (to inject faults), `lines`
 * collects the log lines, `simulated` and `processMetrics` are passed to {@link buildKbsApp}.
 */
export async function testApp(
  options: {
    store?: (real: KbsStore) => KbsStore
    bodyLimit?: string
    simulated?: boolean
    lines?: string[]
    processMetrics?: boolean
    /** Changes the resolved configuration before the app is built. */
    config?: (resolved: KbsServerConfig) => KbsServerConfig
    /** The app's monotonic clock (ms); default its own. */
    monotonicMs?: () => number
    /** The app's clock; default {@link now}, always. */
    clock?: () => Date
  } = {},
): Promise<{ app: FastifyInstance; store: KbsStore }> {
  const { services: real, config: resolved } = await testServices(options.bodyLimit)
  const config = options.config === undefined ? resolved : options.config(resolved)
  const store = options.store === undefined ? real.store : options.store(real.store)
  const lines = options.lines
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines?.push(chunk.toString())
      callback()
    },
  })
  const built = await buildKbsApp({
    ...real,
    store,
    adminKeys: [admin.admin],
    config,
    logger: { level: 'info', stream } as unknown as Parameters<typeof buildKbsApp>[0]['logger'] &
      object,
    clock: options.clock ?? (() => now),
    simulatedTrust: options.simulated ?? false,
    ...(options.processMetrics === undefined ? {} : { processMetrics: options.processMetrics }),
    ...(options.monotonicMs === undefined ? {} : { monotonicMs: options.monotonicMs }),
  })
  cleanups.push(() => built.close())
  return { app: built, store }
}

/** An `authorization` header with a valid admin token; `claims` override its defaults. */
export const auth = async (
  claims: Record<string, unknown> = {},
): Promise<Record<string, string>> => ({
  authorization: `Bearer ${await testAdminToken(admin, now, claims)}`,
})

/** Everything an admin call could change: resources, workloads and the audit log. */
export async function snapshot(store: KbsStore): Promise<unknown> {
  return {
    resources: await store.resources.list(),
    workloads: await store.workloads.list(),
    audit: await store.audit.list({ limit: 1000 }),
  }
}

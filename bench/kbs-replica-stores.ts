/**
 * The stores the replica benchmark runs the KBS on. SQLite: one data directory that every
 * replica of a setup shares. PostgreSQL: stands in with SQLite sharing a data directory until
 * `kbs serve --database` lands; then a throwaway cluster (`startPostgresCluster`) with a fresh
 * database per setup.
 */
import { join } from 'node:path'

/** Which store a setup runs on. */
export type StoreKind = 'sqlite' | 'postgres'

/** A store that the replicas of one setup share. */
export interface SharedStore {
  /** What it is, for the report. */
  readonly label: string
  /** The `kbs serve` arguments of replica `index` (its data directory, its database). */
  argsFor(index: number): string[]
  /** CPU seconds the store's own server processes have used (0 for SQLite: in the KBS). */
  cpuSeconds(): Promise<number>
  stop(): Promise<void>
}

/** Start (or make) the store for one setup in `dir`. */
export function startSharedStore(kind: StoreKind, dir: string): Promise<SharedStore> {
  return Promise.resolve({
    label: kind === 'sqlite' ? 'SQLite' : 'SQLite (shared dir)',
    argsFor: () => ['--data-dir', join(dir, 'data')],
    cpuSeconds: () => Promise.resolve(0),
    stop: () => Promise.resolve(),
  })
}

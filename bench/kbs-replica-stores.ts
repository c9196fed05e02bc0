/**
 * The stores the replica benchmark runs the KBS on. SQLite: in the setup's data directory.
 * PostgreSQL: one throwaway cluster for the whole run (`startPostgresCluster`, Debian's
 * PostgreSQL; `scripts/setup-system.sh` installs it) that is crash-safe as the KBS's SQLite is
 * (fsync on, commits not waited for: see `PostgresClusterOptions`), a fresh database per setup, each replica
 * with its own data directory (caches only). The cluster's CPU time is its postmaster's and the
 * backends' (the postmaster's children) serving the KBS's connections.
 */
import { readFile, readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { startPostgresCluster, type PostgresCluster } from '@initguard/testkit'
import { treeCpuSecondsOf } from './kbs-load.ts'

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
}

/** The PostgreSQL server of a cluster: the process whose command line names its port. */
async function postmasterOf(cluster: PostgresCluster): Promise<number> {
  for (const entry of await readdir('/proc')) {
    if (!/^[0-9]+$/.test(entry)) continue
    const argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')).split('\0')
    if (
      argv[0]?.endsWith('/postgres') === true &&
      argv.join(' ').includes(`-p ${String(cluster.port)}`)
    )
      return Number(entry)
  }
  throw new Error(`no postgres process listens on port ${String(cluster.port)}`)
}

/** The stores of one benchmark run; `stop()` removes the PostgreSQL cluster if one started. */
export class BenchStores {
  #cluster: { cluster: PostgresCluster; postmaster: number } | undefined
  #databases = 0

  /** The store for one setup, with its files under `dir`. */
  async forSetup(kind: StoreKind, dir: string): Promise<SharedStore> {
    if (kind === 'sqlite')
      return {
        label: 'SQLite',
        argsFor: () => ['--data-dir', join(dir, 'data')],
        cpuSeconds: () => Promise.resolve(0),
      }
    if (this.#cluster === undefined) {
      const cluster = await startPostgresCluster({ durability: 'crash-safe' })
      this.#cluster = { cluster, postmaster: await postmasterOf(cluster) }
    }
    const { cluster, postmaster } = this.#cluster
    const url = await cluster.createDatabase(`bench_${String(++this.#databases)}`)
    return {
      label: 'PostgreSQL',
      argsFor: (index) => ['--data-dir', join(dir, `data-${String(index)}`), '--database', url],
      cpuSeconds: () => treeCpuSecondsOf(postmaster),
    }
  }

  async stop(): Promise<void> {
    await this.#cluster?.cluster.stop()
    this.#cluster = undefined
  }
}

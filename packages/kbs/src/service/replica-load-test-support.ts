/**
 * Test support: load on a set of replicas while a test injects faults: honest guests that fail
 * over, attackers that never attested, and an admin that writes workloads and resources; each
 * records what it was told, so the test can check the outcomes and the audit log afterwards.
 *
 * @module
 */
import { stringToUtf8 } from '@initguard/core'
import {
  ATTACKS,
  attack,
  handshakeWithFailover,
  type HandshakeOutcome,
} from './rcar-steps-test-support.ts'
import type { ReplicaSet } from './replicas-test-support.ts'
import { initdataToml, simulatorWorkload } from './kbs-test-support.ts'

/** One honest guest's handshakes (with failover) and how long they took together. */
export interface HonestRecord {
  readonly outcomes: readonly HandshakeOutcome[]
  readonly ms: number
}

/** An admin write and whether the KBS acknowledged it (answered 200). */
export interface AdminWrite {
  readonly kind: 'resource' | 'workload'
  readonly name: string
  readonly acknowledged: boolean
}

/** What the load saw. */
export interface LoadRecord {
  readonly honest: HonestRecord[]
  /** Status of each attacker's resource request (`undefined`: no answer). */
  readonly attacks: (number | undefined)[]
  readonly writes: AdminWrite[]
}

/** Options of {@link startLoad}. */
export interface LoadOptions {
  /** The accepted init-data (TOML) honest guests launch with. */
  readonly initdata: string
  /** Init-data no workload accepts, for the `refused-cookie` attack. */
  readonly otherInitdata: string
  /** The secret every guest asks for. */
  readonly path: string
  readonly honestWorkers: number
  readonly attackers: number
  /** A tag that keeps this load's admin writes apart from another's. */
  readonly tag: string
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Start the load on `set`'s replicas (dead ones included: a client does not know); `stop()`
 * ends it after each worker's current step and returns the record.
 */
export function startLoad(set: ReplicaSet, options: LoadOptions): { stop(): Promise<LoadRecord> } {
  const urls = set.replicas.map((replica) => replica.url)
  const record: LoadRecord = { honest: [], attacks: [], writes: [] }
  let running = true
  const honest = async (worker: number): Promise<void> => {
    for (let round = 0; running; round++) {
      const started = Date.now()
      const outcomes = await handshakeWithFailover(set.http, set.simulator, urls, {
        start: worker + round,
        initdata: options.initdata,
        path: options.path,
        attempts: 8,
        backoffMs: 250,
      })
      record.honest.push({ outcomes, ms: Date.now() - started })
    }
  }
  const attacker = async (worker: number): Promise<void> => {
    for (let round = 0; running; round++) {
      const kind = ATTACKS[(worker + round) % ATTACKS.length] ?? 'no-credentials'
      const url = urls[round % urls.length] ?? ''
      record.attacks.push(
        await attack(set.http, set.simulator, url, kind, options.path, options.otherInitdata),
      )
      await pause(20)
    }
  }
  const admin = async (): Promise<void> => {
    for (let round = 0; running; round++) {
      const replica = set.replicas[round % set.replicas.length]
      if (replica === undefined) return
      const name = `${options.tag}-${String(round)}`
      const kind = round % 2 === 0 ? 'resource' : 'workload'
      const answer = await (
        kind === 'resource'
          ? set.admin(replica, 'POST', `/kbs/v0/resource/default/admin/${name}`, stringToUtf8(name))
          : set.admin(
              replica,
              'PUT',
              `/kbs/v0/admin/workloads/${name}`,
              // Its own init-data: no guest in the load is accepted by it.
              simulatorWorkload([initdataToml(name)], { resources: [`default/${name}/*`] }),
            )
      ).catch(() => ({ status: 0 }))
      record.writes.push({ kind, name, acknowledged: answer.status === 200 })
      await pause(50)
    }
  }
  const workers = [
    ...Array.from({ length: options.honestWorkers }, (_, index) => honest(index)),
    ...Array.from({ length: options.attackers }, (_, index) => attacker(index)),
    admin(),
  ]
  return {
    stop: async () => {
      running = false
      await Promise.all(workers)
      return record
    },
  }
}

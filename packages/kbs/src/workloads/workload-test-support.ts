/**
 * Test support for workloads: init-data documents, a valid definition, and an in-memory
 * `WorkloadStore` (versioned like the SQL one: every put makes the next version).
 */
import {
  SIMULATOR_SNP_MEASUREMENT_HEX,
  SIMULATOR_TDX_MRTD_HEX,
  SIMULATOR_TDX_RTMR_HEX,
} from '@initguard/tee-simulator'
import type { StoredWorkload, WorkloadStore } from '../ports.ts'

/** A valid initdata document whose `aa.toml` names `kbsUrl`. */
export function initdataText(kbsUrl = 'https://kbs.example:8080', algorithm = 'sha384'): string {
  return [
    'version = "0.1.0"',
    `algorithm = "${algorithm}"`,
    '',
    '[data]',
    `"aa.toml" = '''`,
    '[token_configs.kbs]',
    `url = "${kbsUrl}"`,
    `'''`,
    `"cdh.toml" = '''`,
    'socket = "unix:///run/confidential-containers/cdh.sock"',
    '[kbc]',
    'name = "cc_kbc"',
    `url = "${kbsUrl}"`,
    `'''`,
    '',
  ].join('\n')
}

/** TDX reference values the simulator's guests match: its MRTD, and its RTMR1 and RTMR2 pinned. */
export const SIMULATOR_TDX_VALUES = {
  mrtd: [SIMULATOR_TDX_MRTD_HEX],
  rtmr1: [SIMULATOR_TDX_RTMR_HEX],
  rtmr2: [SIMULATOR_TDX_RTMR_HEX],
} as const

/** A valid definition for the simulator's SNP and TDX guests. */
export function webDefinition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name: 'web',
    tees: ['snp', 'tdx'],
    initdata: [initdataText()],
    resources: ['default/web/*'],
    snp: { measurements: [SIMULATOR_SNP_MEASUREMENT_HEX] },
    tdx: SIMULATOR_TDX_VALUES,
    ...overrides,
  }
}

/** A valid SGX-only definition (as JSON: no `snp` or `tdx` block), with `overrides`. */
export function sgxDefinition(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return JSON.parse(
    JSON.stringify(
      webDefinition({
        tees: ['sgx'],
        snp: undefined,
        tdx: undefined,
        sgx: { mrenclave: ['11'.repeat(32)] },
        ...overrides,
      }),
    ),
  ) as Record<string, unknown>
}

/** An in-memory {@link WorkloadStore}. */
export class MemoryWorkloadStore implements WorkloadStore {
  readonly #workloads = new Map<string, StoredWorkload>()
  #versions = new Map<string, number>()

  put(name: string, definition: unknown, now: Date): Promise<StoredWorkload> {
    const version = (this.#versions.get(name) ?? 0) + 1
    this.#versions.set(name, version)
    const stored = { name, version, definition, updatedAt: now.toISOString() }
    this.#workloads.set(name, stored)
    return Promise.resolve(stored)
  }

  get(name: string): Promise<StoredWorkload | undefined> {
    return Promise.resolve(this.#workloads.get(name))
  }

  /** Every row here is authentic: as {@link MemoryWorkloadStore.get}. */
  inspect(name: string): Promise<StoredWorkload | undefined> {
    return this.get(name)
  }

  list(): Promise<readonly StoredWorkload[]> {
    return Promise.resolve([...this.#workloads.values()].sort((a, b) => (a.name < b.name ? -1 : 1)))
  }

  delete(name: string): Promise<boolean> {
    return Promise.resolve(this.#workloads.delete(name))
  }
}

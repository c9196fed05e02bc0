/**
 * Simulated guests for the agent's tests, made as an operator makes them: launched with the TEE
 * simulator's `launchSimulatedGuest` (what `initguard sim launch` runs) and opened with
 * `@initguard/tee`'s `openSimulatedGuest` (what `--tee sim` runs). Each report is freshly signed
 * evidence read back as a verifier would. Two wrappers stand for a misbehaving TEE interface
 * (`tampered`) and count the reports asked for (`counted`); neither makes evidence of its own.
 *
 * @module
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { openSimulatedGuest, type GuestReport, type GuestTee } from '@initguard/tee'
import {
  encodeSimulatedGuestRecord,
  initSimulator,
  launchSimulatedGuest,
  type SimulatedGuestRecord,
} from '@initguard/tee-simulator'

/** Launches guests in one simulator directory, each under a new name. */
export interface GuestLauncher {
  /** A guest whose init-time field binds `document` (its exact bytes). */
  launch(document: string | Uint8Array, tee?: 'snp' | 'tdx'): Promise<GuestTee>
  /** A guest launched without init-data: its init-time field is all zeros. */
  launchBare(tee?: 'snp' | 'tdx'): Promise<GuestTee>
}

/** Make a simulator in `simDir` (which must not exist yet) and return its launcher. */
export async function guestLauncher(simDir: string): Promise<GuestLauncher> {
  await initSimulator(simDir)
  let count = 0
  const launch = async (document: string | Uint8Array, tee: 'snp' | 'tdx' = 'snp') => {
    const name = `guest-${++count}`
    const initdata = typeof document === 'string' ? new TextEncoder().encode(document) : document
    const { path } = await launchSimulatedGuest({ simDir, name, tee, initdata })
    return { name, path }
  }
  return {
    async launch(document, tee) {
      return openSimulatedGuest({ simDir, guest: (await launch(document, tee)).name })
    },
    async launchBare(tee = 'snp') {
      // No launch option makes a zero field (as no host means to); the record is what a TEE
      // started without init-data would give, and the simulator checks it as any other.
      const { name, path } = await launch(
        'version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n',
        tee,
      )
      const record = JSON.parse(readFileSync(path, 'utf8')) as SimulatedGuestRecord
      const zeros = (hex: string): string => '0'.repeat(hex.length)
      const bare = {
        ...record,
        init_data_field: zeros(record.init_data_field),
        initdata_digest: zeros(record.initdata_digest),
      }
      writeFileSync(path, encodeSimulatedGuestRecord(bare), { mode: 0o600 })
      return openSimulatedGuest({ simDir, guest: name })
    },
  }
}

/** A test file's temporary directory, with a simulator in `DIR/sim`. */
export interface GuestWorld {
  readonly dir: string
  readonly guests: GuestLauncher
}

/**
 * Make a temporary directory and simulator before the file's tests (`prefix` names the directory)
 * and remove it after them. Read the fields inside tests only.
 */
export function temporaryGuestWorld(prefix: string): GuestWorld {
  let made: GuestWorld | undefined
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), prefix))
    made = { dir, guests: await guestLauncher(join(dir, 'sim')) }
  }, 120_000)
  afterAll(() => {
    if (made !== undefined) rmSync(made.dir, { recursive: true, force: true })
  })
  const ready = (): GuestWorld => {
    if (made === undefined) throw new Error('the guest world is made before the tests run')
    return made
  }
  return {
    get dir() {
      return ready().dir
    },
    get guests() {
      return ready().guests
    },
  }
}

/** `tee` with every report passed through `change` (a stale, foreign or damaged report). */
export function tampered(tee: GuestTee, change: (report: GuestReport) => GuestReport): GuestTee {
  return {
    tee: tee.tee,
    simulated: tee.simulated,
    description: tee.description,
    report: async (reportData, signal) => change(await tee.report(reportData, signal)),
  }
}

/** `tee`, counting the reports asked of it. */
export function counted(tee: GuestTee): GuestTee & { readonly reports: number } {
  let reports = 0
  return {
    tee: tee.tee,
    simulated: tee.simulated,
    description: tee.description,
    get reports() {
      return reports
    },
    report(reportData, signal) {
      reports++
      return tee.report(reportData, signal)
    },
  }
}

/**
 * What the supervisor and a fuzz worker thread say to each other, and the shared memory layout.
 *
 * @module
 */
import type { FuzzFailure, FuzzTarget } from './engine.ts'

/** What the main thread gives a worker. */
export interface WorkerInput {
  readonly target: string
  /** The URL of the module whose `FUZZ_TARGETS` holds `target`. */
  readonly targetsModule: string
  readonly seed: number
  /** When to stop fuzzing, in {@link epochNow} time: setup counts against the budget. */
  readonly deadline: number
  readonly timeoutMs: number
  readonly scratch: string
  readonly simulatorDir: string
  /** Int32 header (see the `HEADER_` indices), then the input bytes. */
  readonly shared: SharedArrayBuffer
}

/** What a worker tells the main thread. */
export type WorkerMessage =
  | { readonly kind: 'ready'; readonly entries: readonly string[]; readonly prepareMillis: number }
  | { readonly kind: 'failure'; readonly failure: FuzzFailure }
  | {
      readonly kind: 'done'
      readonly executions: number
      readonly rejections: number
      readonly millis: number
      /** How often each failure (by signature) was seen. */
      readonly counts: Readonly<Record<string, number>>
    }

/** Int32 slots of the shared header. */
export const HEADER_EXECUTIONS = 0
export const HEADER_INPUT_LENGTH = 1
/** Index into the `ready` message's entries of the input in shared memory; -1 before the first. */
export const HEADER_ENTRY = 2
export const HEADER_PHASE = 3
export const HEADER_REJECTIONS = 4
export const SHARED_HEADER_BYTES = 32

/** What the worker is doing, in the `HEADER_PHASE` slot. */
export const PHASE_SETUP = 0
export const PHASE_FUZZING = 1
export const PHASE_TEARDOWN = 2

/** Milliseconds since the epoch, comparable between threads (each has its own `performance`). */
export function epochNow(): number {
  return performance.timeOrigin + performance.now()
}

/** The target named `name` among a module's exports (a target, or an array of them). */
export async function loadTarget(targetsModule: string, name: string): Promise<FuzzTarget> {
  const loaded = (await import(targetsModule)) as Record<string, unknown>
  const target = Object.values(loaded)
    .flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : [value]))
    .find(
      (value): value is FuzzTarget =>
        typeof value === 'object' && value !== null && (value as FuzzTarget).name === name,
    )
  if (target === undefined) throw new Error(`no fuzz target ${name} in ${targetsModule}`)
  return target
}

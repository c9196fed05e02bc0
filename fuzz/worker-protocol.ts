/**
 * What the supervisor and a fuzz worker thread say to each other, and the shared memory layout.
 *
 * @module
 */
import type { FuzzFailure } from './engine.ts'

/** What the main thread gives a worker. */
export interface WorkerInput {
  readonly target: string
  readonly seed: number
  readonly millis: number
  readonly timeoutMs: number
  readonly scratch: string
  readonly simulatorDir: string
  /** Int32 [executions, input length, entry index, 0], then the input bytes. */
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

export const SHARED_HEADER_BYTES = 16

/**
 * The shape check of a DER answer (an Intel CRL, once its armour is removed): one whole DER SEQUENCE
 * and nothing after it. Whether it is genuine is checked apart (the collateral clients verify
 * every document against the trusted roots before caching it).
 *
 * @module
 */
import { parseDer } from '@initguard/core'

/** Why an answer is not one DER SEQUENCE, for the client's own coded error. */
export interface DerAnswerProblem {
  /** Completes "the PCK CRL …": `is not DER`, `is not a DER SEQUENCE`. */
  readonly why: string
  /** The DER reader's error, when it refused the bytes. */
  readonly cause?: unknown
}

/** `undefined` when `bytes` is one whole DER SEQUENCE; else why not. */
export function notOneDerSequence(bytes: Uint8Array, name: string): DerAnswerProblem | undefined {
  let element
  try {
    element = parseDer(bytes, { name })
  } catch (cause) {
    return { why: 'is not DER', cause }
  }
  return element.tagClass === 'universal' && element.tagNumber === 16
    ? undefined
    : { why: 'is not a DER SEQUENCE' }
}

/**
 * The one shape check the collateral clients make of a DER answer (a VCEK, a CRL) before caching
 * it: one whole DER SEQUENCE and nothing after it. It tells a proxy's page or a cut body from a
 * document; whether the document is genuine is the verifier's to decide.
 *
 * @module
 */
import { parseDer } from '@initguard/core'

/** Why an answer is not one DER SEQUENCE, for the client's own coded error. */
export interface DerAnswerProblem {
  /** Completes "the VCEK …": `is not DER`, `is not a DER SEQUENCE`. */
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

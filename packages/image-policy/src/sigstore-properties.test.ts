/**
 * Property tests: random damage to a valid signature's payload or annotations never yields an
 * accepted signature, and only ever throws our own errors.
 */
import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { InitguardError } from '@initguard/core'
import { COSIGN_ANNOTATION } from '@initguard/tee-simulator'
import {
  verifySigstoreSignature,
  type SigstoreSignature,
  type SigstoreTrust,
} from './sigstore-signature.ts'
import {
  NOW,
  fulcioSignature,
  fulcioTrust,
  keySignature,
  keyTrust,
} from './sigstore-test-support.ts'

function flip(bytes: Uint8Array, index: number, mask: number): Uint8Array {
  const copy = bytes.slice()
  copy[index % copy.length] = (copy[index % copy.length] ?? 0) ^ mask
  return copy
}

/** Asserts that `sig` is refused with one of our errors. */
function refused(sig: SigstoreSignature, trust: SigstoreTrust): void {
  let error: unknown
  try {
    verifySigstoreSignature(sig, trust, NOW)
  } catch (e) {
    error = e
  }
  expect(error).toBeInstanceOf(InitguardError)
}

/**
 * Asserts that `sig`, whose chain annotation was damaged, is refused with one of our errors or
 * verifies exactly as `original` does: the chain's root is ignored by design (the roots come from
 * the policy), and a leaf the trusted CA signed itself needs no intermediate from it.
 */
function refusedOrSame(
  sig: SigstoreSignature,
  original: SigstoreSignature,
  trust: SigstoreTrust,
): void {
  let read: unknown
  try {
    read = verifySigstoreSignature(sig, trust, NOW)
  } catch (e) {
    expect(e).toBeInstanceOf(InitguardError)
    return
  }
  expect(read).toEqual(verifySigstoreSignature(original, trust, NOW))
}

const cases: [string, () => SigstoreSignature, () => SigstoreTrust][] = [
  [
    'key without Rekor',
    () => keySignature('ecdsa-p256', false),
    () => keyTrust('ecdsa-p256', false),
  ],
  ['Ed25519 key with Rekor', () => keySignature('ed25519'), () => keyTrust('ed25519')],
  ['Fulcio', () => fulcioSignature(), () => fulcioTrust()],
]

describe.each(cases)('damaged signatures never verify: %s', (_, makeSignature, makeTrust) => {
  const sig = makeSignature()
  const trust = makeTrust()
  const keys = [...sig.annotations.keys()]
  const annotationKey = fc.constantFrom(...keys)

  it('the undamaged signature verifies', () => {
    expect(verifySigstoreSignature(sig, trust, NOW).payloadBytes).toEqual(sig.payload)
  })

  it('a bit flip in the payload', () => {
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (i, mask) => {
        refused({ payload: flip(sig.payload, i, mask), annotations: sig.annotations }, trust)
      }),
      { numRuns: 60 },
    )
  })

  it('a changed character in an annotation', () => {
    fc.assert(
      fc.property(annotationKey, fc.nat(), fc.integer({ min: 1, max: 127 }), (key, i, mask) => {
        const value = sig.annotations.get(key) ?? ''
        const at = i % value.length
        const changed =
          value.slice(0, at) +
          String.fromCharCode(value.charCodeAt(at) ^ mask) +
          value.slice(at + 1)
        // Flipping the case of a hex digit, or whitespace in JSON or PEM, may keep the meaning.
        if (
          changed.toLowerCase() === value.toLowerCase() ||
          /\s/.test(value.charAt(at) + changed.charAt(at))
        )
          return
        const annotations = new Map(sig.annotations).set(key, changed)
        // Skipping the chain outright left a changed intermediate unchecked.
        if (key === COSIGN_ANNOTATION.chain)
          refusedOrSame({ payload: sig.payload, annotations }, sig, trust)
        else refused({ payload: sig.payload, annotations }, trust)
      }),
      { numRuns: 150 },
    )
  })

  it('an annotation replaced by random text, or removed', () => {
    fc.assert(
      fc.property(
        annotationKey,
        fc.option(fc.string({ maxLength: 300 }), { nil: undefined }),
        (key, text) => {
          const annotations = new Map(sig.annotations)
          if (text === undefined) annotations.delete(key)
          else annotations.set(key, text)
          if (key === COSIGN_ANNOTATION.chain)
            refusedOrSame({ payload: sig.payload, annotations }, sig, trust)
          else refused({ payload: sig.payload, annotations }, trust)
        },
      ),
      { numRuns: 80 },
    )
  })

  it('random payload bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (payload) => {
        refused({ payload, annotations: sig.annotations }, trust)
      }),
      { numRuns: 40 },
    )
  })
})

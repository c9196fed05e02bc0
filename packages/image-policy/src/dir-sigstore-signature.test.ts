import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { isInitguardError, MalformedInputError } from '@initguard/core'
import { encodeDirSigstoreSignature } from '@initguard/tee-simulator'
import {
  parseDirSigstoreSignature,
  SIGSTORE_SIGNATURE_MIME_TYPE,
} from './dir-sigstore-signature.ts'
import { codeOf, keySignature } from './sigstore-test-support.ts'

const enc = (text: string): Uint8Array => new TextEncoder().encode(text)
const file = (json: string): Uint8Array => enc(`\x00sigstore-json\n${json}`)

describe('parseDirSigstoreSignature', () => {
  it('round-trips what containers/image writes', () => {
    const sig = keySignature('ecdsa-p256')
    const parsed = parseDirSigstoreSignature(encodeDirSigstoreSignature(sig))
    expect(parsed.mimeType).toBe(SIGSTORE_SIGNATURE_MIME_TYPE)
    expect(parsed.payload).toEqual(sig.payload)
    expect(parsed.annotations).toEqual(sig.annotations)
  })

  it('keeps another MIME type, ignores unknown members and accepts absent annotations', () => {
    const parsed = parseDirSigstoreSignature(
      file('{"mimeType":"text/plain","payload":"aGk=","x":1}'),
    )
    expect(parsed.mimeType).toBe('text/plain')
    expect(parsed.annotations.size).toBe(0)
    expect(
      parseDirSigstoreSignature(file('{"mimeType":"a","payload":"aGk=","annotations":null}'))
        .payload,
    ).toEqual(enc('hi'))
  })

  it('refuses other formats, broken JSON and bad members', () => {
    const cases: [string, Uint8Array][] = [
      ['ERR_SIGSTORE_DIR_FORMAT', new Uint8Array()],
      ['ERR_SIGSTORE_DIR_FORMAT', new Uint8Array([0x89, 1, 2])],
      ['ERR_SIGSTORE_DIR_FORMAT', enc('\x00atomic\n{}')],
      ['ERR_SIGSTORE_DIR_FORMAT', enc('\x00sigstore-json')],
      ['ERR_SIGSTORE_DIR_JSON', file('{')],
      ['ERR_SIGSTORE_DIR_JSON', new Uint8Array([...file(''), 0xff])],
      ['ERR_SIGSTORE_DIR_JSON', file('{"mimeType":"a","mimeType":"b","payload":""}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('[]')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"payload":""}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"mimeType":"a"}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"mimeType":"a","payload":5}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"mimeType":"a","payload":"a-b_"}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"mimeType":"a","payload":"","annotations":[]}')],
      ['ERR_SIGSTORE_DIR_FIELD', file('{"mimeType":"a","payload":"","annotations":{"k":1}}')],
    ]
    for (const [code, bytes] of cases) {
      expect(
        codeOf(() => parseDirSigstoreSignature(bytes)),
        new TextDecoder().decode(bytes),
      ).toBe(code)
    }
  })

  it('never throws anything but MalformedInputError (property)', () => {
    const valid = encodeDirSigstoreSignature(keySignature('ecdsa-p256'))
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc.uint8Array({ maxLength: 200 }).map((b) => new Uint8Array([...file(''), ...b])),
          fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 1, max: 255 })).map(([i, x]) => {
            const copy = valid.slice()
            copy[i] = (copy[i] ?? 0) ^ x
            return copy
          }),
        ),
        (bytes) => {
          try {
            parseDirSigstoreSignature(bytes)
          } catch (e) {
            expect(isInitguardError(e) && e instanceof MalformedInputError).toBe(true)
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

/**
 * Property tests of the DCAP evidence reader (a raw quote, or Trustee's JSON around it): any
 * bytes or JSON either parse or are refused with a coded InitguardError of category
 * `malformed`, and a quote reads the same in both forms.
 */
import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { isInitguardError } from '@initguard/core'
import { parseDcapEvidence, parseTrusteeDcapEvidence } from './evidence-format.ts'
import { SGX_QUOTES, TDX_QUOTES, VECTORS } from './quote-test-support.ts'

const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(new URL(path, VECTORS)))
const QUOTES = [
  ...TDX_QUOTES.map((name) => vector(`tdx/${name}/quote.dat`)),
  ...SGX_QUOTES.map((name) => vector(`sgx/${name}/quote.dat`)),
]
const utf8 = (value: unknown): Uint8Array => new TextEncoder().encode(JSON.stringify(value))
const base64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64')

/** Run; an InitguardError of category `malformed` is fine, anything else fails the property. */
function parsesOrRefuses(run: () => unknown): void {
  try {
    run()
  } catch (error) {
    if (!isInitguardError(error)) throw error
    // The package's own codes, or the shared readers' (DER, base64, JSON, UTF-8) for a part they read.
    expect(error.code).toMatch(/^ERR_(TDX|DER|BASE64|JSON|UTF8)_/)
    expect(error.category).toBe('malformed')
  }
}

describe('parseDcapEvidence properties', () => {
  it('reads the same quote raw and inside Trustee JSON, with any event log', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...QUOTES),
        fc.option(fc.uint8Array({ maxLength: 64 }), { nil: undefined }),
        (quote, log) => {
          const raw = parseDcapEvidence(quote)
          const json = parseDcapEvidence(
            utf8({
              quote: base64(quote),
              ...(log === undefined ? {} : { cc_eventlog: base64(log) }),
            }),
          )
          expect(raw.format).toBe('quote')
          expect(json.format).toBe('trustee-json')
          expect(json.quote.raw).toEqual(raw.quote.raw)
          expect(json.eventLog).toEqual(log)
        },
      ),
      { numRuns: 50 },
    )
  })

  it('throws nothing but coded malformed-input errors for any bytes or JSON', () => {
    const quote = fc.constantFrom(...QUOTES)
    const member = fc.oneof(
      fc.jsonValue({ maxDepth: 1 }),
      quote.map(base64),
      quote.chain((q) => fc.nat({ max: q.length }).map((n) => base64(q.subarray(0, n)))),
      fc.base64String({ maxLength: 200 }),
    )
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 2000 }),
      quote.chain((q) => fc.nat({ max: q.length }).map((n) => q.subarray(0, n))),
      fc.jsonValue().map(utf8),
      fc
        .record({ quote: member, cc_eventlog: member, extra: member }, { requiredKeys: [] })
        .map(utf8),
    )
    fc.assert(
      fc.property(bytes, (b) => {
        parsesOrRefuses(() => parseDcapEvidence(b))
      }),
      { numRuns: 500 },
    )
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        parsesOrRefuses(() => parseTrusteeDcapEvidence(value))
      }),
      { numRuns: 200 },
    )
  })
})

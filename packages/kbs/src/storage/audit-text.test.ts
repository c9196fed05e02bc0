import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { auditText } from './audit-text.ts'
import { STORE_ENGINES, testDatabases } from './store-test-support.ts'

const at = new Date('2026-12-01T10:00:00.000Z')
// eslint-disable-next-line no-control-regex -- what must never be stored
const ESCAPED = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\ud800-\udfff]/u

describe('auditText', () => {
  it('writes each control character as \\uXXXX and leaves other text alone', () => {
    expect(auditText('a\u0000b\tc\nd\u007f\u0085\u2028\u2029é😀\udc00')).toBe(
      'a\\u0000b\\u0009c\\u000ad\\u007f\\u0085\\u2028\\u2029é😀\ufffd',
    )
    expect(auditText(undefined)).toBeNull()
  })

  it('never leaves a control character or lone surrogate, and is the identity on text without one', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (text) => {
        const stored = auditText(text)
        expect(stored).not.toMatch(ESCAPED)
        if (!ESCAPED.test(text)) expect(stored).toBe(text)
      }),
    )
  })
})

describe.each(STORE_ENGINES)('the audit log on %s', (engine) => {
  const databases = testDatabases(engine)

  it('stores control characters in every text field, escaped', async () => {
    const { audit } = await databases.open()
    const hostile = 'x\u0000\r\n\u001b[31my\ud800'
    const entry = await audit.append({
      at,
      action: 'resource',
      outcome: 'denied',
      workload: hostile,
      resource: hostile,
      tee: hostile as 'snp',
      reason: hostile,
      evidenceDigest: hostile,
      detail: hostile,
    })
    const [listed] = await audit.list({ limit: 1 })
    expect(listed).toEqual(entry)
    const stored = 'x\\u0000\\u000d\\u000a\\u001b[31my\ufffd'
    for (const field of ['workload', 'resource', 'tee', 'reason', 'evidenceDigest', 'detail'])
      expect(listed?.[field as keyof typeof listed]).toBe(stored)
  })
})

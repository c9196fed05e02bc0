import { describe, expect, it } from 'vitest'
import { notOneDerSequence } from './der-answer.ts'

describe('notOneDerSequence', () => {
  it('accepts one whole SEQUENCE and says why anything else is not', () => {
    expect(notOneDerSequence(Uint8Array.from([0x30, 0x03, 0x02, 0x01, 0x01]), 'CRL')).toBe(
      undefined,
    )
    // Cut short, with a page after it, text, and an INTEGER instead of a SEQUENCE.
    for (const bytes of [
      [0x30, 0x03, 0x02, 0x01],
      [0x30, 0x03, 0x02, 0x01, 0x01, 0x3c],
      [...new TextEncoder().encode('0 not a CRL')],
    ])
      expect(notOneDerSequence(Uint8Array.from(bytes), 'CRL')?.why).toBe('is not DER')
    expect(notOneDerSequence(Uint8Array.from([0x02, 0x01, 0x01]), 'CRL')).toEqual({
      why: 'is not a DER SEQUENCE',
    })
  })
})

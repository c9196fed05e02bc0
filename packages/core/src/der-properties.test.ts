import { describe, it, expect } from 'vitest'
import fc from 'fast-check'
import { parseDer } from './der-parse.ts'
import type { DerElement } from './der-parse.ts'
import {
  decodeDerBitString,
  decodeDerBoolean,
  decodeDerEnumerated,
  decodeDerInteger,
  decodeDerNull,
  decodeDerOctetString,
  decodeDerOid,
} from './der-primitives.ts'
import { decodeDerIa5String, decodeDerPrintableString, decodeDerUtf8String } from './der-strings.ts'
import { decodeDerExplicit, decodeDerSequence, decodeDerSet } from './der-structure.ts'
import type { DerTagClass } from './der-tags.ts'
import { concat, prim, reencode, seq, tlv, walk } from './der-test-support.ts'
import { decodeDerGeneralizedTime, decodeDerTime, decodeDerUtcTime } from './der-time.ts'
import { isInitguardError } from './errors.ts'

describe('parseDer properties', () => {
  interface Tree {
    readonly tagClass: DerTagClass
    readonly tagNumber: number
    readonly content?: Uint8Array
    readonly children?: readonly Tree[]
  }

  const tagNumber = fc.oneof(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 0, max: 2 ** 28 - 1 }),
  )
  const leaf: fc.Arbitrary<Tree> = fc.record({
    tagClass: fc.constantFrom<DerTagClass>('application', 'context', 'private'),
    tagNumber,
    content: fc.uint8Array({ maxLength: 300 }),
  })
  const universalLeaf: fc.Arbitrary<Tree> = fc.record({
    tagClass: fc.constant<DerTagClass>('universal'),
    tagNumber: fc.constantFrom(1, 2, 3, 4, 5, 6, 12, 19, 22, 23, 24, 37),
    content: fc.uint8Array({ maxLength: 40 }),
  })
  const { tree } = fc.letrec<{ tree: Tree; node: Tree }>((tie) => ({
    tree: fc.oneof({ depthSize: 'small' }, leaf, universalLeaf, tie('node')),
    node: fc
      .record({
        tagClass: fc.constantFrom<DerTagClass>('universal', 'context', 'application', 'private'),
        tagNumber,
        children: fc.array(tie('tree'), { maxLength: 5 }),
      })
      .map((t) =>
        t.tagClass === 'universal' ? { ...t, tagNumber: t.tagNumber % 2 === 0 ? 16 : 17 } : t,
      ),
  }))

  function encodeTree(t: Tree): Uint8Array {
    if (t.children === undefined) return tlv(t.tagClass, false, t.tagNumber, t.content ?? [])
    return tlv(t.tagClass, true, t.tagNumber, concat(t.children.map(encodeTree)))
  }

  /** Try every decoder on every element: each either returns or throws a coded error. */
  function decodeEverything(root: DerElement): void {
    const decoders: ((el: DerElement) => unknown)[] = [
      (el) => decodeDerInteger(el, 'x'),
      (el) => decodeDerEnumerated(el, 'x'),
      (el) => decodeDerBoolean(el, 'x'),
      (el) => decodeDerNull(el, 'x'),
      (el) => decodeDerOid(el, 'x'),
      (el) => decodeDerOctetString(el, 'x'),
      (el) => decodeDerBitString(el, 'x'),
      (el) => decodeDerUtf8String(el, 'x'),
      (el) => decodeDerPrintableString(el, 'x'),
      (el) => decodeDerIa5String(el, 'x'),
      (el) => decodeDerUtcTime(el, 'x'),
      (el) => decodeDerGeneralizedTime(el, 'x'),
      (el) => decodeDerTime(el, 'x'),
      (el) => decodeDerSequence(el, 'x'),
      (el) => decodeDerSet(el, 'x'),
      (el) => decodeDerExplicit(el, el.tagNumber, 'x'),
      (el) =>
        decodeDerOid(el, 'x', { implicitTag: { tagClass: el.tagClass, tagNumber: el.tagNumber } }),
      (el) =>
        decodeDerInteger(el, 'x', {
          implicitTag: { tagClass: el.tagClass, tagNumber: el.tagNumber },
        }),
    ]
    for (const el of walk(root)) {
      for (const decode of decoders) {
        try {
          decode(el)
        } catch (e) {
          if (!isInitguardError(e)) throw e
        }
      }
    }
  }

  it('throws nothing but InitguardError on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        let root: DerElement
        try {
          root = parseDer(bytes)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
          return
        }
        // Whatever parses is canonical: re-encoding gives back the same bytes.
        expect(reencode(root)).toEqual(bytes)
        decodeEverything(root)
      }),
      { numRuns: 5000 },
    )
  })

  it('parses any well-formed tree and re-encodes it exactly', () => {
    fc.assert(
      fc.property(tree, (t) => {
        const bytes = encodeTree(t)
        const root = parseDer(bytes, { maxDepth: 1000 })
        expect(root.encoded).toEqual(bytes)
        expect(reencode(root)).toEqual(bytes)
        for (const el of walk(root)) {
          expect(bytes.subarray(el.offset, el.offset + el.encoded.length)).toEqual(el.encoded)
        }
        decodeEverything(root)
      }),
    )
  })

  it('throws nothing but InitguardError on mutated trees, and accepts only canonical ones', () => {
    const mutation = fc.record({
      kind: fc.constantFrom('flip', 'set', 'insert', 'delete', 'truncate'),
      at: fc.nat(),
      byte: fc.integer({ min: 0, max: 255 }),
    })
    fc.assert(
      fc.property(tree, fc.array(mutation, { minLength: 1, maxLength: 4 }), (t, mutations) => {
        let bytes = [...encodeTree(t)]
        for (const m of mutations) {
          const at = bytes.length === 0 ? 0 : m.at % bytes.length
          if (m.kind === 'flip') bytes[at] = (bytes[at] ?? 0) ^ (1 << (m.byte % 8))
          else if (m.kind === 'set') bytes[at] = m.byte
          else if (m.kind === 'insert') bytes.splice(at, 0, m.byte)
          else if (m.kind === 'delete') bytes.splice(at, 1)
          else bytes = bytes.slice(0, at)
        }
        const input = Uint8Array.from(bytes)
        let root: DerElement
        try {
          root = parseDer(input)
        } catch (e) {
          expect(isInitguardError(e)).toBe(true)
          return
        }
        expect(reencode(root)).toEqual(input)
        decodeEverything(root)
      }),
      { numRuns: 2000 },
    )
  })

  it('walks a small nested structure', () => {
    const bytes = seq(prim(2, [0x01]), prim(4, [0xaa, 0xbb]), tlv('context', true, 3, seq()))
    expect(walk(parseDer(bytes)).length).toBe(5)
  })
})

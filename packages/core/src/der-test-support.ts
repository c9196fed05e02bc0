/**
 * Test support for the `der-*.test.ts` files: an independent minimal DER encoder (so tests do not
 * check the parser against itself), used to build inputs and to re-encode parses, and helpers for
 * coded errors. Not exported from the package.
 *
 * @internal
 * @module
 */
import type { DerElement } from './der-parse.ts'
import type { DerTagClass } from './der-tags.ts'
import { isInitguardError } from './errors.ts'
import type { InitguardError } from './errors.ts'
import { hexToBytes } from './encoding.ts'

/** The tag classes in the order of their two class bits. */
const CLASSES: readonly DerTagClass[] = ['universal', 'application', 'context', 'private']

/** Identifier octets for a tag, in the high-tag-number form from 31 up. */
function identifier(tagClass: DerTagClass, constructed: boolean, tagNumber: number): number[] {
  const first = (CLASSES.indexOf(tagClass) << 6) | (constructed ? 0x20 : 0)
  if (tagNumber < 31) return [first | tagNumber]
  const digits: number[] = []
  for (let t = tagNumber; t > 0; t = Math.floor(t / 128)) digits.unshift(t % 128)
  return [first | 0x1f, ...digits.map((d, i) => (i < digits.length - 1 ? d | 0x80 : d))]
}

/** Length octets in DER's minimal form. */
export function lengthOctets(n: number): number[] {
  if (n < 0x80) return [n]
  const out: number[] = []
  for (let v = n; v > 0; v = Math.floor(v / 256)) out.unshift(v % 256)
  return [0x80 | out.length, ...out]
}

/** The parts one after another, as one array. */
export function concat(parts: readonly (Uint8Array | readonly number[])[]): Uint8Array {
  const total = parts.reduce((n, p) => n + p.length, 0)
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** One element: identifier, length and `content`. */
export function tlv(
  tagClass: DerTagClass,
  constructed: boolean,
  tagNumber: number,
  content: Uint8Array | readonly number[],
): Uint8Array {
  return concat([
    identifier(tagClass, constructed, tagNumber),
    lengthOctets(content.length),
    content,
  ])
}

/** A universal primitive element. */
export function prim(tagNumber: number, content: Uint8Array | readonly number[]): Uint8Array {
  return tlv('universal', false, tagNumber, content)
}

/** A universal SEQUENCE of `children`. */
export function seq(...children: Uint8Array[]): Uint8Array {
  return tlv('universal', true, 16, concat(children))
}

/** The element encoded again from its parsed parts (children re-encoded recursively). */
export function reencode(el: DerElement): Uint8Array {
  const content = el.constructed ? concat(el.children.map(reencode)) : el.value
  return tlv(el.tagClass, el.constructed, el.tagNumber, content)
}

/** The character codes of `text` (callers pass ASCII). */
export function ascii(text: string): number[] {
  return Array.from({ length: text.length }, (_, i) => text.charCodeAt(i))
}

/** Bytes from hex text with any whitespace, e.g. `'30 03 02 01 00'`. */
export function hex(text: string): Uint8Array {
  return hexToBytes(text.replace(/\s+/g, ''))
}

/** Run `fn`, which must throw an InitguardError, and return the error. */
export function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** The code of the InitguardError that `fn` throws. */
export function codeOf(fn: () => unknown): string {
  return thrown(fn).code
}

/** Every element of a tree, depth first. */
export function walk(el: DerElement): DerElement[] {
  return [el, ...el.children.flatMap(walk)]
}

/** OID of RSASSA-PSS (RFC 4055), the signature algorithm of AMD's certificate chains. */
export const RSASSA_PSS = '1.2.840.113549.1.1.10'
/** OID of ECDSA with SHA-256 (RFC 5758), the signature algorithm of Intel's SGX certificates. */
export const ECDSA_SHA256 = '1.2.840.10045.4.3.2'

/**
 * Checking DER tags and reading constructed types: {@link expectDerTag}, SEQUENCE, SET and
 * EXPLICIT tags, plus the tag check and error shape every `decodeDer*` function shares.
 *
 * @see ITU-T X.690 §8.9 (SEQUENCE), §8.11 and §8.12 (SET, SET OF), §8.14 (tagged values).
 * @module
 */
import { MalformedInputError } from './errors.ts'
import { DER_HINT } from './der-parse.ts'
import type { DerElement } from './der-parse.ts'
import { DerUniversalTag, describeTag } from './der-tags.ts'
import type { DerTagClass } from './der-tags.ts'

/** A tag to expect: class (default universal), number and form. */
export interface DerTagSpec {
  /** Default `'universal'`. */
  readonly tagClass?: DerTagClass
  /** The tag number. */
  readonly tagNumber: number
  /** True for the constructed form. */
  readonly constructed: boolean
}

/** Options for the `decodeDer*` functions. */
export interface DerDecodeOptions {
  /**
   * The element carries an IMPLICIT tag (X.680 §31.2.7) instead of the type's universal tag, e.g.
   * `{ tagClass: 'context', tagNumber: 2 }` for a `dNSName [2] IMPLICIT IA5String`. The form
   * (primitive or constructed) is still the type's own.
   */
  readonly implicitTag?: { readonly tagClass: DerTagClass; readonly tagNumber: number }
}

/**
 * A decode error at `el`: the message and `details` name the field and the element's offset.
 *
 * @internal shared by the `decodeDer*` functions.
 */
export function decodeError(
  el: DerElement,
  code: `ERR_DER_${string}`,
  field: string,
  message: string,
  details: Readonly<Record<string, string | number>> = {},
): MalformedInputError {
  return new MalformedInputError(code, `${field} at offset ${el.offset}: ${message}`, {
    details: { field, offset: el.offset, ...details },
    hint: DER_HINT,
  })
}

/**
 * Check an element's tag (class, number and form) and return the element.
 *
 * @example
 * ```ts
 * const ext = expectDerTag(tbs.children[7], { tagClass: 'context', tagNumber: 3, constructed: true }, 'extensions')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG` naming the field, the expected and
 *   the actual tag; `ERR_DER_MISSING` when `el` is `undefined` (a SEQUENCE had fewer children).
 */
export function expectDerTag(
  el: DerElement | undefined,
  expected: DerTagSpec,
  field: string,
): DerElement {
  const tagClass = expected.tagClass ?? 'universal'
  const want = describeTag(tagClass, expected.tagNumber, expected.constructed)
  if (el === undefined) {
    throw new MalformedInputError('ERR_DER_MISSING', `${field} is missing: expected ${want}`, {
      details: { field, expected: want },
      hint: DER_HINT,
    })
  }
  if (
    el.tagClass !== tagClass ||
    el.tagNumber !== expected.tagNumber ||
    el.constructed !== expected.constructed
  ) {
    const got = describeTag(el.tagClass, el.tagNumber, el.constructed)
    throw decodeError(el, 'ERR_DER_UNEXPECTED_TAG', field, `expected ${want}, found ${got}`, {
      expected: want,
      actual: got,
    })
  }
  return el
}

/**
 * Check that `el` carries the universal tag `tagNumber` in the given form, or, when
 * `options.implicitTag` is set, that IMPLICIT tag instead; returns the element.
 *
 * @internal shared by the `decodeDer*` functions.
 */
export function expectTypeTag(
  el: DerElement | undefined,
  tagNumber: number,
  constructed: boolean,
  field: string,
  options: DerDecodeOptions | undefined,
): DerElement {
  const implicit = options?.implicitTag
  return expectDerTag(
    el,
    implicit === undefined
      ? { tagNumber, constructed }
      : { tagClass: implicit.tagClass, tagNumber: implicit.tagNumber, constructed },
    field,
  )
}

/**
 * Check that `el` is a SEQUENCE (X.690 §8.9; constructed) and return its components in order.
 *
 * @example
 * ```ts
 * const [tbs, signatureAlgorithm, signatureValue] = decodeDerSequence(cert, 'Certificate')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`.
 */
export function decodeDerSequence(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): readonly DerElement[] {
  return expectTypeTag(el, DerUniversalTag.SEQUENCE, true, field, options).children
}

/**
 * Check that `el` is a SET or SET OF (X.690 §8.11, §8.12; constructed) and return its components
 * in encoded order. The DER ordering rules (§10.3, §11.6) depend on the schema and are not checked.
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`.
 */
export function decodeDerSet(
  el: DerElement | undefined,
  field: string,
  options?: DerDecodeOptions,
): readonly DerElement[] {
  return expectTypeTag(el, DerUniversalTag.SET, true, field, options).children
}

/**
 * Unwrap an EXPLICIT context-specific tag (X.690 §8.14.3): check that `el` is `[tagNumber]` in
 * the constructed form with exactly one child, and return that child.
 *
 * @example
 * ```ts
 * // version [0] EXPLICIT Version DEFAULT v1
 * const version = decodeDerInteger(decodeDerExplicit(tbs[0], 0, 'version'), 'version')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_DER_UNEXPECTED_TAG`, `ERR_DER_MISSING`,
 *   `ERR_DER_EXPLICIT_INVALID` (not exactly one child).
 */
export function decodeDerExplicit(
  el: DerElement | undefined,
  tagNumber: number,
  field: string,
): DerElement {
  const v = expectDerTag(el, { tagClass: 'context', tagNumber, constructed: true }, field)
  const [child] = v.children
  if (child === undefined || v.children.length !== 1) {
    throw decodeError(
      v,
      'ERR_DER_EXPLICIT_INVALID',
      field,
      `explicit tag [${tagNumber}] must wrap exactly one element; it wraps ${v.children.length}`,
      { children: v.children.length },
    )
  }
  return child
}

/**
 * What Intel's collateral JSON holds beyond core's JSON field checker: the validity every document
 * states, PEM certificate chains, TCB levels keyed by one ISVSVN, and text given as a string or as
 * UTF-8 bytes.
 *
 * @module
 */
import {
  asObject,
  dateField,
  enumField,
  fieldError,
  integerField,
  nonEmptyArrayField,
  objectField,
  optionalStringArray,
  stringField,
  utf8ToString,
  type JsonDocument,
  type JsonObject,
} from '@initguard/core'

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----/

/** Text given as a string or as its UTF-8 bytes (decoded strictly). */
export function textOf(input: string | Uint8Array, field: string): string {
  return typeof input === 'string' ? input : utf8ToString(input, { field })
}

/** When a collateral document (TCB info, QE identity) was issued and how long it may be used. */
export interface CollateralValidity {
  /** When Intel issued the document. */
  readonly issueDate: Date
  /** After this, the document is stale and must not be used. */
  readonly nextUpdate: Date
  /** The TCB recovery event the document reflects. */
  readonly tcbEvaluationDataNumber: number
}

/** `issueDate`, `nextUpdate` and `tcbEvaluationDataNumber` of a collateral document's `obj`. */
export function collateralValidity(
  doc: JsonDocument,
  obj: JsonObject,
  path: string,
): CollateralValidity {
  return {
    issueDate: dateField(doc, obj, 'issueDate', path),
    nextUpdate: dateField(doc, obj, 'nextUpdate', path),
    tcbEvaluationDataNumber: integerField(doc, obj, 'tcbEvaluationDataNumber', path, 0, 0xffffffff),
  }
}

/** The string member `key` of `obj`, which must hold at least one PEM certificate block. */
export function pemChainMember(
  doc: JsonDocument,
  obj: JsonObject,
  key: string,
  path: string,
): string {
  return pemChainField(doc, stringField(doc, obj, key, path), `${path}.${key}`)
}

/** `value` if it holds at least one PEM certificate block. */
export function pemChainField(doc: JsonDocument, value: string, path: string): string {
  if (!PEM_CERTIFICATE.test(value)) {
    throw fieldError(doc, path, 'must hold PEM certificates (-----BEGIN CERTIFICATE-----)')
  }
  return value
}

/** A TCB level keyed by one ISVSVN: a QE identity's levels, a TDX module identity's levels. */
export interface IsvSvnTcbLevel<S extends string> {
  /** `tcb.isvsvn`. */
  readonly isvSvn: number
  /** When Intel released this level. */
  readonly tcbDate: Date
  /** Intel's verdict at this level. */
  readonly tcbStatus: S
  /** Advisories that apply at this level. */
  readonly advisoryIds: readonly string[]
}

/**
 * The non-empty `tcbLevels` of `obj`, each `{ tcb: { isvsvn }, tcbDate, tcbStatus, advisoryIDs }`,
 * ordered by ISVSVN, highest first, as Intel's QVL keeps them (it takes the first match).
 */
export function isvSvnTcbLevels<S extends string>(
  doc: JsonDocument,
  obj: JsonObject,
  path: string,
  statuses: readonly S[],
  maxIsvSvn: number,
): IsvSvnTcbLevel<S>[] {
  const levels = nonEmptyArrayField(doc, obj, 'tcbLevels', path).map((value, i) => {
    const p = `${path}.tcbLevels[${i}]`
    const level = asObject(doc, value, p)
    const tcb = objectField(doc, level, 'tcb', p)
    return {
      isvSvn: integerField(doc, tcb, 'isvsvn', `${p}.tcb`, 0, maxIsvSvn),
      tcbDate: dateField(doc, level, 'tcbDate', p),
      tcbStatus: enumField(doc, level, 'tcbStatus', p, statuses),
      advisoryIds: optionalStringArray(doc, level, 'advisoryIDs', p),
    }
  })
  return levels.toSorted((a, b) => b.isvSvn - a.isvSvn)
}

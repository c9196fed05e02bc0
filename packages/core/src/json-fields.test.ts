import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { MalformedInputError } from './errors.ts'
import {
  asObject,
  dateField,
  enumField,
  hexField,
  integerField,
  nonEmptyArrayField,
  optionalStringArray,
  parseJson,
  stringField,
  type JsonDocument,
} from './json-fields.ts'

const DOC: JsonDocument = { name: 'test document', code: 'ERR_TEST_DOC', hint: 'fix the test' }

function refusal(fn: () => unknown): MalformedInputError {
  try {
    fn()
  } catch (error) {
    if (error instanceof MalformedInputError) return error
    throw error
  }
  throw new Error('nothing was thrown')
}

describe('JSON field checker', () => {
  const obj = asObject(
    DOC,
    parseJson(DOC, '{"s":"x","n":7,"a":[],"h":"0aFF","d":"2024-02-29T12:00:00Z","e":"B"}', 'doc'),
    'doc',
  )

  it('reads each type, and refuses with the document code, the path and the hint', () => {
    expect(stringField(DOC, obj, 's', 'doc')).toBe('x')
    expect(integerField(DOC, obj, 'n', 'doc', 0, 10)).toBe(7)
    expect(hexField(DOC, obj, 'h', 'doc', 2)).toEqual(new Uint8Array([0x0a, 0xff]))
    expect(dateField(DOC, obj, 'd', 'doc').toISOString()).toBe('2024-02-29T12:00:00.000Z')
    expect(enumField(DOC, obj, 'e', 'doc', ['A', 'B'] as const)).toBe('B')
    expect(optionalStringArray(DOC, obj, 'missing', 'doc')).toEqual([])
    const wrongType = refusal(() => stringField(DOC, obj, 'n', 'doc'))
    expect(wrongType.code).toBe('ERR_TEST_DOC')
    expect(wrongType.message).toBe('test document: doc.n must be a string (a number)')
    expect(wrongType.details).toEqual({ document: 'test document', field: 'doc.n' })
    expect(wrongType.hint).toBe('fix the test')
    expect(refusal(() => stringField(DOC, obj, 'gone', 'doc')).message).toContain(
      'doc.gone is missing',
    )
    expect(refusal(() => integerField(DOC, obj, 'n', 'doc', 0, 5)).details['field']).toBe('doc.n')
    expect(refusal(() => nonEmptyArrayField(DOC, obj, 'a', 'doc')).message).toContain(
      'must not be empty',
    )
    expect(refusal(() => parseJson(DOC, '{', 'doc')).code).toBe('ERR_TEST_DOC')
    const repeated = refusal(() => parseJson(DOC, '{"tcbInfo":{"version":3,"version":2}}', 'doc'))
    expect(repeated).toMatchObject({ code: 'ERR_TEST_DOC', details: { field: 'tcbInfo.version' } })
  })

  it('refuses dates that are not on the calendar', () => {
    const bad = asObject(DOC, { d: '2023-02-29T00:00:00Z' }, 'doc')
    expect(refusal(() => dateField(DOC, bad, 'd', 'doc')).details['field']).toBe('doc.d')
  })

  it('throws nothing but the document error on any JSON value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        try {
          const o = asObject(DOC, value, '$')
          stringField(DOC, o, 'k', '$')
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedInputError)
          expect((error as MalformedInputError).code).toBe('ERR_TEST_DOC')
        }
      }),
    )
  })
})

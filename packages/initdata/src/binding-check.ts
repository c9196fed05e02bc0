/**
 * Check a document against the value a TEE field holds (or is expected to hold).
 *
 * @module
 */
import {
  ExpectationError,
  bytesToHex,
  constantTimeEqual,
  type AppraisalFailure,
  type ErrorCode,
} from '@initguard/core'
import type { InitdataDocument } from './document.ts'
import { bindingFor, type TeeBinding, type TeeKind } from './tee-binding.ts'

/**
 * The binding of `document` on `tee`, if and only if it equals `expected` byte for byte.
 *
 * @param expected - the field value: HOST_DATA, MRCONFIGID, CONFIGID, … or, for `vtpm`, PCR 8.
 * @throws {@link ExpectationError} `ERR_INITDATA_BINDING_MISMATCH` naming the expected and actual
 *   values, or `ERR_INITDATA_VTPM_DIGEST_LENGTH`.
 */
export function checkBinding(
  document: InitdataDocument,
  tee: TeeKind,
  expected: Uint8Array,
): TeeBinding {
  const binding = bindingFor(tee, document.algorithm, document.digest)
  if (!constantTimeEqual(binding.value, expected)) {
    const lengthNote =
      expected.length === binding.value.length
        ? ''
        : ` (and the expected value has ${expected.length} bytes where ${binding.field.name} has ${binding.field.length})`
    throw new ExpectationError(
      'ERR_INITDATA_BINDING_MISMATCH',
      `the document does not match the expected ${binding.field.name}${lengthNote}`,
      {
        details: {
          tee,
          field: binding.field.name,
          algorithm: document.algorithm,
          expected: bytesToHex(expected),
          actual: bytesToHex(binding.value),
        },
        hint: '`initguard initdata explain` tells the usual causes (line ends, final newline, algorithm, truncation)',
      },
    )
  }
  return binding
}

/**
 * The appraisal rule "the evidence's init-time field holds this document's binding": the failure
 * (under the verifier's own `code`) when `actual` differs, `undefined` when it matches.
 *
 * @param field - the field's name as the evidence spells it (`HOST_DATA`, `MRCONFIGID`, …).
 * @param actual - the field's value in the evidence.
 * @throws {@link ExpectationError} `ERR_INITDATA_VTPM_DIGEST_LENGTH` (from {@link bindingFor}).
 */
export function initdataBindingFailure<Code extends ErrorCode>(
  code: Code,
  tee: TeeKind,
  field: string,
  actual: Uint8Array,
  document: InitdataDocument,
): (AppraisalFailure & { readonly code: Code }) | undefined {
  const expected = bindingFor(tee, document.algorithm, document.digest).value
  if (constantTimeEqual(expected, actual)) return undefined
  return {
    code,
    message: `${field} is ${bytesToHex(actual)}, but the initdata document (${document.algorithm}) binds to ${bytesToHex(expected)}`,
    hint: `\`initguard initdata explain DOCUMENT --tee ${tee} --expected ${bytesToHex(actual)}\` tells the usual causes (line ends, final newline, algorithm)`,
  }
}

/**
 * How Kata Containers carries an initdata document to the guest.
 *
 * - Pod annotation `io.katacontainers.config.hypervisor.cc_init_data` = base64(gzip(document)),
 *   standard alphabet with padding (what `gzip -c initdata.toml | base64 -w0` prints).
 * - QEMU gets the fitted digest base64-encoded: `sev-snp-guest,…,host-data=<b64 of 32 B>`,
 *   `tdx-guest` `mrconfigid=<b64 of 48 B>`, Arm CCA `personalization-value=<b64 of 64 B>`.
 *
 * @module
 */
import { MalformedInputError, base64ToBytes, bytesToBase64 } from '@initguard/core'
import { DEFAULT_MAX_DOCUMENT_SIZE, assertWritableDocumentSize, gunzip, gzip } from './gzip.ts'
import type { TeeBinding } from './tee-binding.ts'

/** The pod annotation Kata reads the initdata document from. */
export const KATA_INITDATA_ANNOTATION = 'io.katacontainers.config.hypervisor.cc_init_data'

/**
 * Encode a document as the annotation value: base64(gzip(bytes)).
 *
 * @throws {@link MalformedInputError} `ERR_INITDATA_TOO_LARGE` above {@link DEFAULT_MAX_DOCUMENT_SIZE}
 *   bytes, which {@link decodeAnnotation} would refuse.
 */
export function encodeAnnotation(document: Uint8Array): string {
  assertWritableDocumentSize(document.length, 'the annotation value')
  return bytesToBase64(gzip(document))
}

/** Options for {@link decodeAnnotation}. */
export interface DecodeAnnotationOptions {
  /** Largest accepted document in bytes; default 16 MiB. */
  readonly maxSize?: number
}

/**
 * Decode an annotation value back to the document bytes. Accepts any single gzip member (any tool,
 * any level, any header fields) and, like the Kata runtime, line breaks anywhere in the base64.
 * Nothing else is stripped: the Kata runtime's base64 decoder refuses a space, a tab or a byte order
 * mark around the value, so we do too, and several gzip members are refused (see {@link gunzip}).
 *
 * @throws {@link MalformedInputError} `ERR_BASE64_INVALID`, `ERR_GZIP_INVALID`,
 *   `ERR_GZIP_MEMBERS`, `ERR_GZIP_TOO_LARGE`, `ERR_ANNOTATION_EMPTY`.
 */
export function decodeAnnotation(value: string, options: DecodeAnnotationOptions = {}): Uint8Array {
  const text = value.replace(/[\r\n]/g, '')
  if (text.length === 0) {
    throw new MalformedInputError('ERR_ANNOTATION_EMPTY', 'the annotation value is empty', {
      hint: `give the value of ${KATA_INITDATA_ANNOTATION}`,
    })
  }
  const compressed = base64ToBytes(text, { field: 'annotation value', allowLineBreaks: true })
  return gunzip(compressed, {
    field: 'annotation value',
    maxSize: options.maxSize ?? DEFAULT_MAX_DOCUMENT_SIZE,
  })
}

/** A QEMU confidential-guest object property carrying the fitted digest. */
export interface QemuProperty {
  /** The QEMU object type (`sev-snp-guest`, `tdx-guest`, `rme-guest`). */
  readonly object: string
  /** The property name on that object. */
  readonly property: string
  /** The base64 (standard, padded) value. */
  readonly value: string
  /** `property=value`, as appended to `-object`. */
  readonly argument: string
}

const QEMU_OBJECTS: Partial<Record<TeeBinding['tee'], { object: string; property: string }>> = {
  snp: { object: 'sev-snp-guest', property: 'host-data' },
  tdx: { object: 'tdx-guest', property: 'mrconfigid' },
  cca: { object: 'rme-guest', property: 'personalization-value' },
}

/**
 * The QEMU property that puts a binding's value into the TEE field, or `undefined` for TEEs that
 * QEMU does not set (SGX, SE, vTPM).
 */
export function qemuPropertyFor(binding: TeeBinding): QemuProperty | undefined {
  const target = QEMU_OBJECTS[binding.tee]
  if (target === undefined) return undefined
  const value = bytesToBase64(binding.value)
  return { ...target, value, argument: `${target.property}=${value}` }
}

/**
 * The sigstore signature files of a `dir:` image (`signature-1`, `signature-2`, …), as
 * containers/image writes and reads them (`internal/signature/signature.go` `FromBlob`,
 * `internal/signature/sigstore.go`).
 *
 * ```text
 * 0x00                      marks the newer, self-describing format (OpenPGP blobs start otherwise)
 * "sigstore-json"           the format name: printable ASCII
 * 0x0A                      newline
 * {"mimeType": "application/vnd.dev.cosign.simplesigning.v1+json",
 *  "payload": "<base64 of the payload bytes>",
 *  "annotations": {"dev.cosignproject.cosign/signature": "<base64>", …}}
 * ```
 *
 * Like containers/image, unknown members are ignored and the MIME type is returned as found:
 * the evaluator skips attachments that are not {@link SIGSTORE_SIGNATURE_MIME_TYPE}. Stricter:
 * duplicate keys are refused (Go keeps the last), and `mimeType` and `payload` must be present.
 *
 * @module
 */
import { MalformedInputError, base64ToBytes, isInitguardError, utf8ToString } from '@initguard/core'
import { parseStrictJson, type JsonNode } from './strict-json.ts'
import type { SigstoreSignature } from './sigstore-signature.ts'

/** The MIME type of a cosign signature attachment; other attachments are not signatures. */
export const SIGSTORE_SIGNATURE_MIME_TYPE = 'application/vnd.dev.cosign.simplesigning.v1+json'

/** A sigstore signature read from a `dir:` image's `signature-N` file. */
export interface DirSigstoreSignature extends SigstoreSignature {
  /** The attachment's MIME type; only {@link SIGSTORE_SIGNATURE_MIME_TYPE} is a signature. */
  readonly mimeType: string
}

const PREFIX = '\x00sigstore-json\n'
const WHAT = 'sigstore signature file'

function fault(code: `ERR_SIGSTORE_DIR_${string}`, message: string, hint: string, field?: string) {
  return new MalformedInputError(code, `${WHAT}: ${message}`, {
    details: field === undefined ? {} : { field },
    hint,
  })
}

function stringMember(members: ReadonlyMap<string, JsonNode>, name: string): string {
  const node = members.get(name)
  if (node?.kind !== 'string') {
    throw fault(
      'ERR_SIGSTORE_DIR_FIELD',
      node === undefined ? `"${name}" is missing` : `"${name}" is not a string`,
      'the file was not written by containers/image (skopeo, podman); copy the image again',
      name,
    )
  }
  return node.value
}

/**
 * Parse a `dir:` image's sigstore signature file.
 *
 * @example
 * ```ts
 * const sig = parseDirSigstoreSignature(readFileSync('img/signature-1'))
 * if (sig.mimeType === SIGSTORE_SIGNATURE_MIME_TYPE) verifySigstoreSignature(sig, trust, now)
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_SIGSTORE_DIR_FORMAT` (not the `0x00 sigstore-json\n`
 *   form: e.g. an OpenPGP simple signature), `ERR_SIGSTORE_DIR_JSON` (not UTF-8 / strict JSON),
 *   `ERR_SIGSTORE_DIR_FIELD` (a member missing or of the wrong type, payload not base64).
 */
export function parseDirSigstoreSignature(bytes: Uint8Array): DirSigstoreSignature {
  const head = String.fromCharCode(...bytes.subarray(0, PREFIX.length))
  if (head !== PREFIX) {
    throw fault(
      'ERR_SIGSTORE_DIR_FORMAT',
      bytes[0] === 0
        ? 'the format name is not "sigstore-json"'
        : 'does not start with 0x00 "sigstore-json" and a newline',
      bytes[0] === 0
        ? 'this is another signature format; only sigstore-json is read here'
        : 'this is probably an OpenPGP simple-signing signature; verify it as one',
    )
  }
  let root: JsonNode
  try {
    const text = utf8ToString(bytes.subarray(PREFIX.length), { field: WHAT })
    root = parseStrictJson(text, WHAT)
  } catch (cause) {
    if (!isInitguardError(cause)) throw cause
    throw new MalformedInputError('ERR_SIGSTORE_DIR_JSON', `${WHAT}: ${cause.message}`, {
      cause,
      details: cause.details,
      hint: 'the file is damaged; copy the image again',
    })
  }
  if (root.kind !== 'object') {
    throw fault('ERR_SIGSTORE_DIR_FIELD', 'the JSON is not an object', 'copy the image again')
  }
  const mimeType = stringMember(root.members, 'mimeType')
  let payload: Uint8Array
  try {
    // Go decodes []byte with base64.StdEncoding, which skips CR and LF.
    payload = base64ToBytes(stringMember(root.members, 'payload'), {
      field: 'payload',
      allowLineBreaks: true,
    })
  } catch (cause) {
    if (cause instanceof MalformedInputError && cause.code === 'ERR_BASE64_INVALID') {
      throw new MalformedInputError('ERR_SIGSTORE_DIR_FIELD', `${WHAT}: ${cause.message}`, {
        cause,
        details: { field: 'payload' },
        hint: 'the payload must be standard padded base64; copy the image again',
      })
    }
    throw cause
  }
  const annotations = new Map<string, string>()
  const node = root.members.get('annotations')
  if (node !== undefined && node.kind !== 'null') {
    if (node.kind !== 'object') {
      throw fault(
        'ERR_SIGSTORE_DIR_FIELD',
        '"annotations" is not an object',
        'copy the image again',
        'annotations',
      )
    }
    for (const [key, value] of node.members) {
      if (value.kind !== 'string') {
        throw fault(
          'ERR_SIGSTORE_DIR_FIELD',
          `annotation "${key.slice(0, 64)}" is not a string`,
          'annotation values are strings; copy the image again',
          'annotations',
        )
      }
      annotations.set(key, value.value)
    }
  }
  return { mimeType, payload, annotations }
}

/**
 * The two TPM 2.0 commands a vTPM init-data binding needs, `TPM2_PCR_Read` and `TPM2_PCR_Extend`
 * on the SHA-256 bank, marshalled to bytes, and their responses parsed with every length and
 * value checked (TPM 2.0 Library, Part 3 §22.4 and §22.2; Part 2 for the structures). Pure: no
 * I/O; the transports (`tpm2-transport.ts`) move the bytes.
 *
 * ```text
 * every command and response starts with a 10-byte header, big-endian:
 *   tag u16 (0x8001 TPM_ST_NO_SESSIONS, 0x8002 TPM_ST_SESSIONS), size u32 (the whole), code u32
 *   (the command code; in a response, the response code)
 *
 * TPM2_PCR_Read (0x17e), 20 bytes: header, TPML_PCR_SELECTION {count 1, {TPM_ALG_SHA256,
 *   sizeofSelect 3, pcrSelect[3]: one bit, PCR n = byte n/8, bit n%8}}
 *   response: header, pcrUpdateCounter u32, TPML_PCR_SELECTION (the PCRs read), TPML_DIGEST
 *   {count u32, TPM2B_DIGEST {size u16, bytes}…}
 * TPM2_PCR_Extend (0x182), 65 bytes: header (tag 0x8002), pcrHandle u32 (= n), authorizationSize
 *   u32 (9), TPMS_AUTH_COMMAND {TPM_RS_PW, nonce TPM2B size 0, attributes 0, hmac TPM2B size 0:
 *   the empty password a PCR has by default}, TPML_DIGEST_VALUES {count 1, {TPM_ALG_SHA256,
 *   32 bytes}}
 *   response: header (tag 0x8002), parameterSize u32 (0), TPMS_AUTH_RESPONSE {nonce TPM2B,
 *   attributes u8, hmac TPM2B}; an error response is the header alone, tag 0x8001
 * ```
 *
 * A response is refused unless its tag is one the command allows, its size field equals the bytes
 * received and is at most {@link TPM2_MAX_RESPONSE_SIZE}, and its body is exactly the structure
 * above (the PCR asked for and no other, one 32-byte digest, no trailing bytes). A non-zero
 * response code becomes the typed error of `tpm2-response-codes.ts`.
 *
 * @module
 */
import {
  ByteReader,
  MalformedInputError,
  UnavailableError,
  type ErrorDetails,
} from '@initguard/core'
import { TPM_RC_SUCCESS, tpmCommandError } from './tpm2-response-codes.ts'

/** `TPM_ST_NO_SESSIONS`. */
export const TPM_ST_NO_SESSIONS = 0x8001
/** `TPM_ST_SESSIONS`. */
export const TPM_ST_SESSIONS = 0x8002
/** `TPM_CC_PCR_Read`. */
export const TPM_CC_PCR_READ = 0x17e
/** `TPM_CC_PCR_Extend`. */
export const TPM_CC_PCR_EXTEND = 0x182
/** `TPM_ALG_SHA256`. */
export const TPM_ALG_SHA256 = 0x000b
/** `TPM_RS_PW`: the password authorization session. */
export const TPM_RS_PW = 0x40000009
/** The response header: tag, size, response code. */
export const TPM2_HEADER_SIZE = 10
/**
 * The largest response accepted: Linux's `TPM_BUFSIZE` (the kernel's TPM character devices never
 * pass more), and far above the 60-odd bytes these two commands answer with.
 */
export const TPM2_MAX_RESPONSE_SIZE = 4096
/** The PCRs of a PC Client TPM: 0..23. */
export const TPM2_PCR_COUNT = 24
/** Bytes in a SHA-256 PCR. */
export const SHA256_PCR_SIZE = 32
/** `sizeofSelect` sent: 3 bytes select PCRs 0..23. */
const SIZEOF_SELECT = 3
/** The largest `sizeofSelect` a TPM may answer with (`PCR_SELECT_MAX` for 256 PCRs). */
const SIZEOF_SELECT_MAX = 32

/** A marshalled command, and what its response must look like. */
export interface Tpm2Command {
  /** `TPM2_PCR_Read`, `TPM2_PCR_Extend`. */
  readonly name: string
  readonly code: number
  /** The tag of a successful response: `TPM_ST_SESSIONS` when the command carries sessions. */
  readonly successTag: number
  readonly bytes: Uint8Array
}

/** What a malformed response is refused with. */
function malformed(
  code: `ERR_TPM_${string}`,
  command: Tpm2Command,
  message: string,
  details: ErrorDetails,
): MalformedInputError {
  return new MalformedInputError(code, `${command.name} response: ${message}`, {
    details: { command: command.name, ...details },
    hint: 'the TPM (or what stands between it and this client) answered with bytes that are not this command’s response: check that the path names a TPM, and that nothing else writes to it',
  })
}

/** Check a PCR index (0..23), naming the function it was passed to. */
function checkPcrIndex(pcr: number): void {
  if (!Number.isInteger(pcr) || pcr < 0 || pcr >= TPM2_PCR_COUNT) {
    throw new MalformedInputError(
      'ERR_TPM_PCR_INDEX',
      `PCR ${String(pcr)} is not a PC Client PCR (0..${TPM2_PCR_COUNT - 1})`,
      { details: { pcr: String(pcr) }, hint: 'PCR 8 holds the init-data binding' },
    )
  }
}

function header(view: DataView, tag: number, size: number, code: number): void {
  view.setUint16(0, tag)
  view.setUint32(2, size)
  view.setUint32(6, code)
}

/** `TPM2_PCR_Read` of one PCR of the SHA-256 bank. */
export function pcrReadCommand(pcr: number): Tpm2Command {
  checkPcrIndex(pcr)
  const bytes = new Uint8Array(TPM2_HEADER_SIZE + 4 + 2 + 1 + SIZEOF_SELECT)
  const view = new DataView(bytes.buffer)
  header(view, TPM_ST_NO_SESSIONS, bytes.length, TPM_CC_PCR_READ)
  view.setUint32(10, 1)
  view.setUint16(14, TPM_ALG_SHA256)
  view.setUint8(16, SIZEOF_SELECT)
  view.setUint8(17 + (pcr >> 3), 1 << (pcr & 7))
  return {
    name: 'TPM2_PCR_Read',
    code: TPM_CC_PCR_READ,
    successTag: TPM_ST_NO_SESSIONS,
    bytes,
  }
}

/**
 * `TPM2_PCR_Extend` of one PCR of the SHA-256 bank with a 32-byte `digest`, authorized by the
 * empty password (a PCR's default).
 */
export function pcrExtendCommand(pcr: number, digest: Uint8Array): Tpm2Command {
  checkPcrIndex(pcr)
  if (digest.length !== SHA256_PCR_SIZE) {
    throw new MalformedInputError(
      'ERR_TPM_DIGEST_LENGTH',
      `the SHA-256 PCR bank is extended with 32-byte digests; this one has ${digest.length} bytes`,
      { details: { length: digest.length }, hint: 'use a SHA-256 digest' },
    )
  }
  const authSize = 4 + 2 + 1 + 2
  const bytes = new Uint8Array(TPM2_HEADER_SIZE + 4 + 4 + authSize + 4 + 2 + SHA256_PCR_SIZE)
  const view = new DataView(bytes.buffer)
  header(view, TPM_ST_SESSIONS, bytes.length, TPM_CC_PCR_EXTEND)
  view.setUint32(10, pcr)
  view.setUint32(14, authSize)
  view.setUint32(18, TPM_RS_PW)
  // nonce size 0, sessionAttributes 0, hmac (the password) size 0: bytes 22..26 stay zero.
  view.setUint32(27, 1)
  view.setUint16(31, TPM_ALG_SHA256)
  bytes.set(digest, 33)
  return {
    name: 'TPM2_PCR_Extend',
    code: TPM_CC_PCR_EXTEND,
    successTag: TPM_ST_SESSIONS,
    bytes,
  }
}

/**
 * The response size a header declares, checked as soon as its first 6 bytes are in: the tag is a
 * TPM 2.0 tag and the size between {@link TPM2_HEADER_SIZE} and {@link TPM2_MAX_RESPONSE_SIZE}.
 * For a transport that reads a stream: it knows how much to wait for, and refuses an oversized
 * response before reading it.
 *
 * @throws {@link MalformedInputError} `ERR_TPM_RESPONSE_TAG`, `ERR_TPM_RESPONSE_SIZE`,
 *   `ERR_TPM_RESPONSE_TOO_LARGE`; `ERR_TRUNCATED` with fewer than 6 bytes.
 */
export function declaredResponseSize(start: Uint8Array, command: Tpm2Command): number {
  const reader = new ByteReader(start.subarray(0, 6), { name: `${command.name} response` })
  const tag = reader.u16be('tag')
  const size = reader.u32be('responseSize')
  if (tag !== TPM_ST_NO_SESSIONS && tag !== TPM_ST_SESSIONS) {
    throw malformed(
      'ERR_TPM_RESPONSE_TAG',
      command,
      `tag 0x${tag.toString(16).padStart(4, '0')} is not a TPM 2.0 response tag (0x8001, 0x8002)`,
      { tag },
    )
  }
  if (size > TPM2_MAX_RESPONSE_SIZE) {
    throw malformed(
      'ERR_TPM_RESPONSE_TOO_LARGE',
      command,
      `its header declares ${size} bytes, more than the ${TPM2_MAX_RESPONSE_SIZE} accepted`,
      { size, max: TPM2_MAX_RESPONSE_SIZE },
    )
  }
  if (size < TPM2_HEADER_SIZE) {
    throw malformed(
      'ERR_TPM_RESPONSE_SIZE',
      command,
      `its header declares ${size} bytes, less than the header itself (${TPM2_HEADER_SIZE})`,
      { size },
    )
  }
  return size
}

/**
 * Check a whole response's header and response code, and return a reader positioned after the
 * header (for a successful response).
 *
 * @param where - the TPM, for a refusal's message (`/dev/tpmrm0`).
 * @throws {@link MalformedInputError} as {@link declaredResponseSize}, and `ERR_TPM_RESPONSE_SIZE`
 *   when the size field is not the number of bytes received, `ERR_TPM_RESPONSE_TAG` when the tag
 *   is not the one the outcome calls for; the `TpmCommandError` of the response code.
 */
function checkedResponse(response: Uint8Array, command: Tpm2Command, where: string): ByteReader {
  const reader = new ByteReader(response, { name: `${command.name} response` })
  if (response.length > TPM2_MAX_RESPONSE_SIZE) {
    throw malformed(
      'ERR_TPM_RESPONSE_TOO_LARGE',
      command,
      `${response.length} bytes, more than the ${TPM2_MAX_RESPONSE_SIZE} accepted`,
      { length: response.length, max: TPM2_MAX_RESPONSE_SIZE },
    )
  }
  const size = declaredResponseSize(reader.bytesAt(0, 6, 'header'), command)
  if (size !== response.length) {
    throw malformed(
      'ERR_TPM_RESPONSE_SIZE',
      command,
      `its header declares ${size} bytes, but ${response.length} were received`,
      { size, length: response.length },
    )
  }
  const tag = reader.u16be('tag')
  reader.skip(4, 'responseSize')
  const rc = reader.u32be('responseCode')
  if (rc !== TPM_RC_SUCCESS) {
    // An error response is the header alone, without sessions (Part 1, §18.10).
    if (tag !== TPM_ST_NO_SESSIONS || size !== TPM2_HEADER_SIZE) {
      throw malformed(
        'ERR_TPM_RESPONSE_SIZE',
        command,
        `response code 0x${rc.toString(16).padStart(8, '0')} with tag 0x${tag.toString(16)} and ${size} bytes; an error response is the 10-byte header with tag 0x8001`,
        { size, tag, responseCode: `0x${rc.toString(16).padStart(8, '0')}` },
      )
    }
    throw tpmCommandError(rc, command.name, where)
  }
  if (tag !== command.successTag) {
    throw malformed(
      'ERR_TPM_RESPONSE_TAG',
      command,
      `tag 0x${tag.toString(16)} on a successful response; ${command.name} answers with 0x${command.successTag.toString(16)}`,
      { tag, expected: command.successTag },
    )
  }
  return reader
}

/**
 * The value of the PCR `command` read (a {@link pcrReadCommand}), from its response.
 *
 * @throws {@link MalformedInputError} (see {@link checkedResponse}), `ERR_TPM_RESPONSE_INVALID`
 *   for a body that is not the PCR asked for, `ERR_TRUNCATED` / `ERR_TRAILING_BYTES`;
 *   {@link UnavailableError} `ERR_TPM_PCR_UNAVAILABLE` when the TPM answers with no value (the
 *   SHA-256 bank is not allocated); the `TpmCommandError` of a response code.
 */
export function parsePcrReadResponse(
  response: Uint8Array,
  command: Tpm2Command,
  pcr: number,
  where: string,
): Uint8Array {
  const reader = checkedResponse(response, command, where)
  const invalid = (message: string, details: ErrorDetails): MalformedInputError =>
    malformed('ERR_TPM_RESPONSE_INVALID', command, message, details)
  reader.u32be('pcrUpdateCounter')
  const selections = reader.u32be('pcrSelectionOut.count')
  if (selections !== 1) {
    throw invalid(`${selections} PCR selections; one was asked for`, { selections })
  }
  const hash = reader.u16be('pcrSelectionOut.hash')
  if (hash !== TPM_ALG_SHA256) {
    throw invalid(`the selection is of bank 0x${hash.toString(16)}, not SHA-256 (0xb)`, { hash })
  }
  const sizeofSelect = reader.u8('pcrSelectionOut.sizeofSelect')
  if (sizeofSelect > SIZEOF_SELECT_MAX) {
    throw invalid(`sizeofSelect ${sizeofSelect} is above ${SIZEOF_SELECT_MAX}`, { sizeofSelect })
  }
  const select = reader.bytes(sizeofSelect, 'pcrSelectionOut.pcrSelect')
  const selected: number[] = []
  select.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) if (((byte >> bit) & 1) === 1) selected.push(i * 8 + bit)
  })
  const digests = reader.u32be('pcrValues.count')
  if (selected.length === 0 && digests === 0) {
    reader.end('reject-trailing')
    throw new UnavailableError(
      'ERR_TPM_PCR_UNAVAILABLE',
      `the TPM at ${where} has no SHA-256 value for PCR ${pcr}: its SHA-256 PCR bank is not allocated`,
      {
        details: { pcr, bank: 'sha256', tpm: where },
        hint: 'allocate the SHA-256 bank (tpm2_pcrallocate sha256:all, then reboot): CoCo verifiers read PCR 8 from it',
      },
    )
  }
  if (selected.length !== 1 || selected[0] !== pcr) {
    throw invalid(`the PCRs read are [${selected.join(', ')}]; PCR ${pcr} alone was asked for`, {
      selected: selected.map(String),
      pcr,
    })
  }
  if (digests !== 1) {
    throw invalid(`${digests} PCR values for one PCR`, { digests })
  }
  const size = reader.u16be('pcrValues.digests[0].size')
  if (size !== SHA256_PCR_SIZE) {
    throw invalid(`a ${size}-byte value for a SHA-256 PCR (32 bytes)`, { size })
  }
  const value = reader.copyAt(reader.offset, SHA256_PCR_SIZE, 'pcrValues.digests[0].buffer')
  reader.skip(SHA256_PCR_SIZE, 'pcrValues.digests[0].buffer')
  reader.end('reject-trailing')
  return value
}

/**
 * Check the response to a {@link pcrExtendCommand}: success, with the empty parameter area and the
 * password session's empty response.
 *
 * @throws as {@link parsePcrReadResponse} (without `ERR_TPM_PCR_UNAVAILABLE`).
 */
export function parsePcrExtendResponse(
  response: Uint8Array,
  command: Tpm2Command,
  where: string,
): void {
  const reader = checkedResponse(response, command, where)
  const parameterSize = reader.u32be('parameterSize')
  const nonce = reader.u16be('authResponse.nonce.size')
  reader.u8('authResponse.sessionAttributes')
  const hmac = reader.u16be('authResponse.hmac.size')
  if (parameterSize !== 0 || nonce !== 0 || hmac !== 0) {
    throw malformed(
      'ERR_TPM_RESPONSE_INVALID',
      command,
      `parameterSize ${parameterSize}, nonce ${nonce} bytes, hmac ${hmac} bytes; TPM2_PCR_Extend with a password session answers 0, 0, 0`,
      { parameterSize, nonce, hmac },
    )
  }
  reader.end('reject-trailing')
}

/**
 * Intel PCS (or PCCS) responses as collateral: `GET …/tcb?fmspc=…` answers
 * `{"tcbInfo":{…},"signature":"<hex r‖s>"}`, where the signature covers the exact bytes of the inner
 * `tcbInfo` value as they appear in the body; `GET …/qe/identity` answers the same with
 * `enclaveIdentity`. The issuer chains come URL-encoded in response headers
 * ({@link PCS_ISSUER_CHAIN_HEADERS}). The inner JSON text is cut out of the body exactly, never
 * re-serialised: a re-serialised copy is not what Intel signed.
 *
 * @see Intel PCS API v4 (Get TCB Info, Get Quoting Enclave Identity, Get PCK Cert CRL).
 * @module
 */
import {
  MalformedInputError,
  asObject,
  fieldError,
  hexField,
  member,
  parseJson,
  type JsonDocument,
} from '@initguard/core'
import type { DcapCollateral } from './collateral.ts'
import { crlToDer } from './crl.ts'
import { pemChainField, textOf } from './json-fields.ts'

/**
 * The PCS response headers that carry the issuer chains (URL-encoded PEM, signer first). API v3
 * named the TCB info header `SGX-TCB-Info-Issuer-Chain`.
 */
export const PCS_ISSUER_CHAIN_HEADERS = {
  tcbInfo: 'TCB-Info-Issuer-Chain',
  qeIdentity: 'SGX-Enclave-Identity-Issuer-Chain',
  pckCrl: 'SGX-PCK-CRL-Issuer-Chain',
} as const

const PCS: JsonDocument = {
  name: 'PCS response',
  code: 'ERR_TDX_PCS_RESPONSE_INVALID',
  hint: 'give the response body exactly as Intel PCS served it, with its issuer-chain header',
}

/** A signed JSON value cut out of a PCS response body. */
export interface PcsSignedJson {
  /** The exact text of the inner value (`tcbInfo` or `enclaveIdentity`): what Intel signed. */
  readonly text: string
  /** The `signature` member: r‖s, 64 bytes. */
  readonly signature: Uint8Array
}

const WHITESPACE = new Set([' ', '\t', '\n', '\r'])

function skipWhitespace(s: string, i: number): number {
  let j = i
  while (j < s.length && WHITESPACE.has(s.charAt(j))) j += 1
  return j
}

/** End (exclusive) of the string literal starting at `i`. */
function skipString(s: string, i: number): number {
  let j = i + 1
  while (j < s.length && s.charAt(j) !== '"') j += s.charAt(j) === '\\' ? 2 : 1
  return j + 1
}

/** End (exclusive) of the JSON value starting at `i`; `s` is known to be valid JSON. */
function skipValue(s: string, i: number): number {
  const first = s.charAt(i)
  if (first === '"') return skipString(s, i)
  if (first === '{' || first === '[') {
    let depth = 0
    let j = i
    while (j < s.length) {
      const c = s.charAt(j)
      if (c === '"') {
        j = skipString(s, j)
        continue
      }
      if (c === '{' || c === '[') depth += 1
      else if (c === '}' || c === ']') depth -= 1
      j += 1
      if (depth === 0) return j
    }
    return j
  }
  let j = i
  while (j < s.length && !WHITESPACE.has(s.charAt(j)) && !',}]'.includes(s.charAt(j))) j += 1
  return j
}

/**
 * The exact source text of each member of the top-level object in `s` (valid JSON, an object).
 * Duplicate names are refused: a parser that keeps the last copy and a signature over the first
 * would disagree about what was signed.
 */
function memberTexts(s: string, doc: JsonDocument): Map<string, string> {
  const members = new Map<string, string>()
  let i = skipWhitespace(s, 0) + 1
  for (;;) {
    i = skipWhitespace(s, i)
    if (i >= s.length || s.charAt(i) === '}') return members
    const keyEnd = skipString(s, i)
    const key = JSON.parse(s.slice(i, keyEnd)) as string
    const start = skipWhitespace(s, skipWhitespace(s, keyEnd) + 1)
    const end = skipValue(s, start)
    if (members.has(key)) throw fieldError(doc, key, 'appears twice in the body')
    members.set(key, s.slice(start, end))
    i = skipWhitespace(s, end)
    if (s.charAt(i) === ',') i += 1
  }
}

function signedJson(body: string | Uint8Array, name: 'tcbInfo' | 'enclaveIdentity'): PcsSignedJson {
  const source = textOf(body, `${name} response`)
  const obj = asObject(PCS, parseJson(PCS, source, 'body'), 'body')
  asObject(PCS, member(obj, name) ?? null, name)
  const signature = hexField(PCS, obj, 'signature', 'body', 64)
  const inner = memberTexts(source, PCS).get(name)
  if (inner === undefined) throw fieldError(PCS, name, 'is missing')
  return { text: inner, signature }
}

/**
 * Cut the signed `tcbInfo` JSON text and its signature out of a PCS `GET …/tcb` response body.
 *
 * @example
 * ```ts
 * const { text, signature } = parsePcsTcbInfoResponse(await response.text())
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCS_RESPONSE_INVALID` naming the member.
 */
export function parsePcsTcbInfoResponse(body: string | Uint8Array): PcsSignedJson {
  return signedJson(body, 'tcbInfo')
}

/**
 * Cut the signed `enclaveIdentity` JSON text and its signature out of a PCS `GET …/qe/identity`
 * response body.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCS_RESPONSE_INVALID` naming the member.
 */
export function parsePcsQeIdentityResponse(body: string | Uint8Array): PcsSignedJson {
  return signedJson(body, 'enclaveIdentity')
}

/**
 * Decode an issuer-chain header value (URL-encoded PEM) to PEM text. Already-decoded PEM is
 * returned unchanged (PEM never contains `%`).
 *
 * @example
 * ```ts
 * decodeIssuerChainHeader(response.headers.get('TCB-Info-Issuer-Chain') ?? '')
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCS_RESPONSE_INVALID` (bad `%` escape, no PEM).
 */
export function decodeIssuerChainHeader(value: string, header = 'issuer chain header'): string {
  let pem: string
  try {
    pem = decodeURIComponent(value)
  } catch (cause) {
    throw new MalformedInputError(
      PCS.code,
      `${PCS.name}: ${header} is not valid URL-encoded text`,
      { cause, details: { document: PCS.name, field: header }, hint: PCS.hint },
    )
  }
  return pemChainField(PCS, pem, header)
}

/** One PCS response: its body and its issuer-chain header value. */
export interface PcsResponse {
  /** The response body. For the PCK CRL: DER bytes (`encoding=der`), PEM or hex. */
  readonly body: string | Uint8Array
  /** The issuer-chain header value, URL-encoded as served (or already decoded). */
  readonly issuerChain: string
}

/** The PCS responses that make up collateral for one quote. */
export interface PcsCollateralResponses {
  /** `GET /{sgx|tdx}/certification/v4/tcb?fmspc=…` and its `TCB-Info-Issuer-Chain`. */
  readonly tcbInfo: PcsResponse
  /** `GET /{sgx|tdx}/certification/v4/qe/identity` and its `SGX-Enclave-Identity-Issuer-Chain`. */
  readonly qeIdentity: PcsResponse
  /** `GET /sgx/certification/v4/pckcrl?ca=…` and its `SGX-PCK-CRL-Issuer-Chain`. */
  readonly pckCrl: PcsResponse
  /** The Root CA CRL (`…/IntelSGXRootCA.der`): DER bytes, PEM or hex. */
  readonly rootCaCrl: string | Uint8Array
}

/**
 * Assemble {@link DcapCollateral} from PCS responses.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCS_RESPONSE_INVALID`, `ERR_TDX_CRL_INVALID`,
 *   `ERR_HEX_INVALID`, `ERR_BASE64_INVALID`, `ERR_UTF8_INVALID`.
 */
export function collateralFromPcs(responses: PcsCollateralResponses): DcapCollateral {
  const tcbInfo = parsePcsTcbInfoResponse(responses.tcbInfo.body)
  const qeIdentity = parsePcsQeIdentityResponse(responses.qeIdentity.body)
  return {
    tcbInfo: tcbInfo.text,
    tcbInfoSignature: tcbInfo.signature,
    tcbInfoIssuerChain: decodeIssuerChainHeader(
      responses.tcbInfo.issuerChain,
      PCS_ISSUER_CHAIN_HEADERS.tcbInfo,
    ),
    qeIdentity: qeIdentity.text,
    qeIdentitySignature: qeIdentity.signature,
    qeIdentityIssuerChain: decodeIssuerChainHeader(
      responses.qeIdentity.issuerChain,
      PCS_ISSUER_CHAIN_HEADERS.qeIdentity,
    ),
    pckCrl: crlToDer(responses.pckCrl.body, 'PCK CRL'),
    pckCrlIssuerChain: decodeIssuerChainHeader(
      responses.pckCrl.issuerChain,
      PCS_ISSUER_CHAIN_HEADERS.pckCrl,
    ),
    rootCaCrl: crlToDer(responses.rootCaCrl, 'Root CA CRL'),
  }
}

/**
 * DCAP collateral: everything besides the quote that SGX/TDX quote verification needs, in the two
 * forms it arrives in.
 *
 * 1. **The collateral document** (one JSON object per quote, as the vectors and Phala's tooling
 *    store it):
 *
 *    ```json
 *    { "pck_crl_issuer_chain": "<PEM: PCK CA, Root CA>", "root_ca_crl": "<hex DER>",
 *      "pck_crl": "<hex DER>", "tcb_info_issuer_chain": "<PEM: TCB Signing, Root CA>",
 *      "tcb_info": "<the exact JSON text Intel signed>", "tcb_info_signature": "<hex r‖s>",
 *      "qe_identity_issuer_chain": "<PEM>", "qe_identity": "<exact JSON text>",
 *      "qe_identity_signature": "<hex r‖s>" }
 *    ```
 *
 * 2. **Intel PCS (or PCCS) responses**: `GET …/tcb?fmspc=…` answers `{"tcbInfo":{…},"signature":
 *    "<hex>"}` where the signature covers the exact bytes of the inner `tcbInfo` value as they
 *    appear in the body; `GET …/qe/identity` answers the same with `enclaveIdentity`; the issuer
 *    chains come URL-encoded in response headers. `collateralFromPcs` (in `pcs-response.ts`)
 *    cuts the inner JSON text out of the body exactly, never re-serialised: a re-serialised copy is
 *    not what Intel signed.
 *
 * Both give a {@link DcapCollateral}: raw, unverified material. `verifyCollateral` checks it.
 *
 * @see Intel PCS API v4 (Get TCB Info, Get Quoting Enclave Identity, Get PCK Cert CRL).
 * @module
 */
import { Buffer } from 'node:buffer'
import { createHash } from 'node:crypto'
import {
  bytesToHex,
  hexToBytes,
  asObject,
  fieldError,
  hexField,
  member,
  parseJson,
  stringField,
  type JsonDocument,
} from '@initguard/core'
import { pemChainMember, textOf } from './json-fields.ts'

/** Raw, unverified collateral for one quote. */
export interface DcapCollateral {
  /** The TCB info JSON text exactly as Intel signed it. */
  readonly tcbInfo: string
  /** ECDSA P-256 signature over the UTF-8 bytes of `tcbInfo`: r‖s, 64 bytes. */
  readonly tcbInfoSignature: Uint8Array
  /** PEM chain of the TCB info signer: Intel SGX TCB Signing, then the Root CA. */
  readonly tcbInfoIssuerChain: string
  /** The QE identity JSON text exactly as Intel signed it. */
  readonly qeIdentity: string
  /** ECDSA P-256 signature over the UTF-8 bytes of `qeIdentity`: r‖s, 64 bytes. */
  readonly qeIdentitySignature: Uint8Array
  /** PEM chain of the QE identity signer (normally the same as `tcbInfoIssuerChain`). */
  readonly qeIdentityIssuerChain: string
  /** The PCK CRL (DER) of the CA that issued the quote's PCK certificate. */
  readonly pckCrl: Uint8Array
  /** PEM chain of the PCK CRL issuer: Intel SGX PCK Platform or Processor CA, then the Root CA. */
  readonly pckCrlIssuerChain: string
  /** The Intel SGX Root CA CRL (DER). */
  readonly rootCaCrl: Uint8Array
}

const DOC: JsonDocument = {
  name: 'collateral',
  code: 'ERR_TDX_COLLATERAL_INVALID',
  hint: 'give the collateral document with all nine fields (pck_crl_issuer_chain, root_ca_crl, pck_crl, tcb_info_issuer_chain, tcb_info, tcb_info_signature, qe_identity_issuer_chain, qe_identity, qe_identity_signature)',
}

function nonEmptyHex(
  obj: Readonly<Record<string, unknown>>,
  key: string,
  path: string,
): Uint8Array {
  const value = stringField(DOC, obj, key, path)
  if (value.length === 0 || !/^[0-9A-Fa-f]*$/.test(value) || value.length % 2 !== 0) {
    throw fieldError(DOC, `${path}.${key}`, 'must be the hex of a DER CRL')
  }
  return hexToBytes(value)
}

function jsonText(obj: Readonly<Record<string, unknown>>, key: string, path: string): string {
  if (typeof member(obj, key) === 'object' && member(obj, key) !== null) {
    throw fieldError(
      DOC,
      `${path}.${key}`,
      'must be the exact JSON text Intel signed, as a string (an embedded object has lost its signed bytes)',
    )
  }
  const value = stringField(DOC, obj, key, path)
  if (value.length === 0) throw fieldError(DOC, `${path}.${key}`, 'must not be empty')
  return value
}

/**
 * Parse the collateral document (JSON text or its UTF-8 bytes). Checks the shape of every field
 * (strings, hex, 64-byte signatures, PEM chains present); the content is checked by
 * `verifyCollateral`. Unknown fields are ignored.
 *
 * @example
 * ```ts
 * const collateral = parseCollateralJson(readFileSync('collateral.json'))
 * const verified = verifyCollateral(collateral, { now: new Date() })
 * ```
 *
 * @throws {@link MalformedInputError} `ERR_TDX_COLLATERAL_INVALID` naming the field
 *   (`details.field`); `ERR_UTF8_INVALID` for bytes that are not UTF-8.
 */
export function parseCollateralJson(input: string | Uint8Array): DcapCollateral {
  const path = 'collateral'
  const obj = asObject(DOC, parseJson(DOC, textOf(input, 'collateral'), path), path)
  return {
    tcbInfo: jsonText(obj, 'tcb_info', path),
    tcbInfoSignature: hexField(DOC, obj, 'tcb_info_signature', path, 64),
    tcbInfoIssuerChain: pemChainMember(DOC, obj, 'tcb_info_issuer_chain', path),
    qeIdentity: jsonText(obj, 'qe_identity', path),
    qeIdentitySignature: hexField(DOC, obj, 'qe_identity_signature', path, 64),
    qeIdentityIssuerChain: pemChainMember(DOC, obj, 'qe_identity_issuer_chain', path),
    pckCrl: nonEmptyHex(obj, 'pck_crl', path),
    pckCrlIssuerChain: pemChainMember(DOC, obj, 'pck_crl_issuer_chain', path),
    rootCaCrl: nonEmptyHex(obj, 'root_ca_crl', path),
  }
}

/**
 * Write collateral as the collateral document, the inverse of {@link parseCollateralJson}.
 *
 * @example
 * ```ts
 * writeFileSync('collateral.json', collateralToJson(collateralFromPcs(responses)))
 * ```
 */
export function collateralToJson(collateral: DcapCollateral): string {
  return JSON.stringify({
    pck_crl_issuer_chain: collateral.pckCrlIssuerChain,
    root_ca_crl: bytesToHex(collateral.rootCaCrl),
    pck_crl: bytesToHex(collateral.pckCrl),
    tcb_info_issuer_chain: collateral.tcbInfoIssuerChain,
    tcb_info: collateral.tcbInfo,
    tcb_info_signature: bytesToHex(collateral.tcbInfoSignature),
    qe_identity_issuer_chain: collateral.qeIdentityIssuerChain,
    qe_identity: collateral.qeIdentity,
    qe_identity_signature: bytesToHex(collateral.qeIdentitySignature),
  })
}

/**
 * SHA-256 of the collateral's content (every field, length-prefixed, in a fixed order), lower-case
 * hex: the key under which a verification is cached. Equal content gives an equal digest whatever
 * form it arrived in.
 */
export function collateralDigest(collateral: DcapCollateral): string {
  const hash = createHash('sha256').update('initguard/dcap-collateral/v1')
  const parts: (string | Uint8Array)[] = [
    collateral.tcbInfo,
    collateral.tcbInfoSignature,
    collateral.tcbInfoIssuerChain,
    collateral.qeIdentity,
    collateral.qeIdentitySignature,
    collateral.qeIdentityIssuerChain,
    collateral.pckCrl,
    collateral.pckCrlIssuerChain,
    collateral.rootCaCrl,
  ]
  for (const part of parts) {
    // Strings are hashed as their UTF-8 bytes, without building a copy of them first.
    const length = new Uint8Array(4)
    new DataView(length.buffer).setUint32(
      0,
      typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length,
    )
    hash.update(length).update(part)
  }
  return hash.digest('hex')
}

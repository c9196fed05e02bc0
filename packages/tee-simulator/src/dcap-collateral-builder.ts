/**
 * Build DCAP collateral documents for tests, in exactly the shape of the vectors'
 * `collateral.json` (two-space indented JSON, these keys in this order):
 *
 * ```json
 * { "pck_crl_issuer_chain": "<PEM: PCK CA, root>", "root_ca_crl": "<hex DER>",
 *   "pck_crl": "<hex DER>", "tcb_info_issuer_chain": "<PEM: TCB Signing, root>",
 *   "tcb_info": "<compact JSON text>", "tcb_info_signature": "<hex r‖s>",
 *   "qe_identity_issuer_chain": "<PEM>", "qe_identity": "<compact JSON text>",
 *   "qe_identity_signature": "<hex r‖s>" }
 * ```
 *
 * The TCB info and QE identity texts come from `dcap-collateral-json.ts`; each is signed by the
 * TCB Signing key, ECDSA P-256/SHA-256 over the exact UTF-8 bytes of the text, r‖s. The CRLs and
 * issuer chains come from the Intel test PKI.
 *
 * @module
 */
import { sign, type KeyObject } from 'node:crypto'
import { bytesToHex } from '@initguard/core'
import {
  defaultQeIdentityFields,
  defaultTcbInfoFields,
  encodeQeIdentityJson,
  encodeTcbInfoJson,
} from './dcap-collateral-json.ts'
import type { QeIdentityFields, TcbInfoFields } from './dcap-collateral-json.ts'
import type { IntelCrlOptions, IntelPckCa, IntelTestPki } from './intel-pki.ts'

/** A part of the collateral that `corrupt` can break. */
export type DcapCollateralCorruption = 'tcb-info-signature' | 'qe-identity-signature'

/** Options for {@link buildDcapCollateral}. */
export interface DcapCollateralOptions {
  /** The PKI whose TCB Signing key signs and whose CAs issue the CRLs. */
  readonly pki: IntelTestPki
  /** Which TEE: picks TDX/TD_QE or SGX/QE defaults. Default `'sgx'` if `tcbInfo.id` is `'SGX'`, else `'tdx'`. */
  readonly tee?: 'tdx' | 'sgx'
  /** Whose PCK CRL to include. Default `'platform'`. */
  readonly ca?: IntelPckCa
  /** `issueDate` of both documents and `thisUpdate` of both CRLs (whole seconds). */
  readonly issueDate: Date
  /** `nextUpdate` of both documents and both CRLs (whole seconds). */
  readonly nextUpdate: Date
  /** TCB info fields over the defaults. */
  readonly tcbInfo?: Partial<TcbInfoFields>
  /** QE identity fields over the defaults. */
  readonly qeIdentity?: Partial<QeIdentityFields>
  /** Sign and include this exact TCB info text instead of encoding `tcbInfo`. */
  readonly tcbInfoText?: string
  /** Sign and include this exact QE identity text instead of encoding `qeIdentity`. */
  readonly qeIdentityText?: string
  /** Root CA CRL options over `{ thisUpdate: issueDate, nextUpdate }`. */
  readonly rootCaCrl?: Partial<IntelCrlOptions>
  /** PCK CRL options over `{ thisUpdate: issueDate, nextUpdate }`. */
  readonly pckCrl?: Partial<IntelCrlOptions>
  /** End the issuer chains with the root, as Intel does. Default true. */
  readonly includeRoot?: boolean
  /** Sign the documents with this key instead of the TCB Signing key. */
  readonly signingKey?: KeyObject
  /** Parts to break, for negative tests. */
  readonly corrupt?: readonly DcapCollateralCorruption[]
}

/** Sign collateral JSON text as Intel does: ECDSA P-256/SHA-256 over its UTF-8 bytes, r‖s. */
export function signCollateralText(text: string, signingKey: KeyObject): Uint8Array {
  return new Uint8Array(
    sign('sha256', new TextEncoder().encode(text), { key: signingKey, dsaEncoding: 'ieee-p1363' }),
  )
}

/**
 * Build a collateral document (the JSON text of a `collateral.json`) signed by the PKI: TCB info
 * and QE identity from the defaults for the TEE with `tcbInfo` / `qeIdentity` over them, the
 * Root CA CRL and the PCK CRL of `ca`, and the issuer chains.
 *
 * @example
 * ```ts
 * const text = buildDcapCollateral({ pki, issueDate, nextUpdate })
 * verifyDcapQuote(parseDcapQuote(quote), { now, collateral: parseCollateralJson(text), root: pki.root.pem })
 * ```
 *
 * @throws {@link UsageError} `ERR_DCAP_BUILD_FIELD_INVALID` for dates that are not whole seconds;
 *   the X.509 builder's errors for the CRLs.
 */
export function buildDcapCollateral(options: DcapCollateralOptions): string {
  const { pki, issueDate, nextUpdate } = options
  const tee = options.tee ?? (options.tcbInfo?.id === 'SGX' ? 'sgx' : 'tdx')
  const ca = options.ca ?? 'platform'
  const corrupt = new Set(options.corrupt ?? [])
  const tcbInfo =
    options.tcbInfoText ??
    encodeTcbInfoJson({ ...defaultTcbInfoFields(tee, issueDate, nextUpdate), ...options.tcbInfo })
  const qeIdentity =
    options.qeIdentityText ??
    encodeQeIdentityJson({
      ...defaultQeIdentityFields(tee, issueDate, nextUpdate),
      ...options.qeIdentity,
    })
  const key = options.signingKey ?? pki.tcbSigning.privateKey
  const tcbInfoSignature = signCollateralText(tcbInfo, key)
  const qeIdentitySignature = signCollateralText(qeIdentity, key)
  if (corrupt.has('tcb-info-signature')) tcbInfoSignature[31] = (tcbInfoSignature[31] ?? 0) ^ 1
  if (corrupt.has('qe-identity-signature')) {
    qeIdentitySignature[31] = (qeIdentitySignature[31] ?? 0) ^ 1
  }
  const withRoot = options.includeRoot ?? true
  const chain = (pem: string): string => pem + (withRoot ? pki.root.pem : '')
  const crlWindow = { thisUpdate: issueDate, nextUpdate }
  return JSON.stringify(
    {
      pck_crl_issuer_chain: chain(pki.pckCa(ca).pem),
      root_ca_crl: bytesToHex(pki.rootCaCrl({ ...crlWindow, ...options.rootCaCrl })),
      pck_crl: bytesToHex(pki.pckCrl(ca, { ...crlWindow, ...options.pckCrl })),
      tcb_info_issuer_chain: chain(pki.tcbSigning.pem),
      tcb_info: tcbInfo,
      tcb_info_signature: bytesToHex(tcbInfoSignature),
      qe_identity_issuer_chain: chain(pki.tcbSigning.pem),
      qe_identity: qeIdentity,
      qe_identity_signature: bytesToHex(qeIdentitySignature),
    },
    null,
    2,
  )
}

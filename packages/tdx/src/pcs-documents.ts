/**
 * One Intel PCS (or PCCS) response checked on its own, as a downloader checks it before it keeps
 * it: the TCB info or QE identity signed by the `Intel SGX TCB Signing` certificate of its issuer
 * chain, the PCK CRL by the PCK Platform or Processor CA of its issuer chain, the Root CA CRL by
 * the root, each of those chains ending at the trusted root. Nothing here judges time: whether a
 * document is current is decided where it is used ({@link verifyCollateral}, at the verifier's
 * `now`), so a cache can keep a genuine document and its caller still refuse it once it is stale.
 *
 * What this settles is that a document is one Intel issued, so a cache in front of PCS never keeps
 * (and never answers with) a forged one: a document's own `nextUpdate`, which a cache reads to
 * know when to fetch again, is believed only once its signature is.
 *
 * @module
 */
import type { X509Certificate } from 'node:crypto'
import { stringToUtf8 } from '@initguard/core'
import {
  PLATFORM_CA_CN,
  PROCESSOR_CA_CN,
  TCB_SIGNING_CN,
  trustedRoot,
  verifyDocumentSignature,
  verifyIssuerChain,
} from './collateral-chain.ts'
import { crlToDer, parseX509Crl, verifyCrlSignature, type X509Crl } from './crl.ts'
import { INTEL_SGX_ROOT_CA_PEM } from './intel-roots.ts'
import {
  PCS_ISSUER_CHAIN_HEADERS,
  decodeIssuerChainHeader,
  parsePcsQeIdentityResponse,
  parsePcsTcbInfoResponse,
  type PcsResponse,
  type PcsSignedJson,
} from './pcs-response.ts'
import { parseQeIdentity, type QeIdentity } from './qe-identity.ts'
import { parseTcbInfo, type TcbInfo } from './tcb-info.ts'

/** The trust anchor the chains must end at: Intel's production root unless one is given. */
export type PcsDocumentRoot = string | X509Certificate | undefined

/**
 * Check a trust anchor once, where it is configured, so a root that is no root is refused there
 * rather than at the first document.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_ROOT_INVALID` (not self-signed) and the certificate
 *   reader's codes.
 */
export function checkPcsDocumentRoot(root: PcsDocumentRoot): void {
  trustedRoot(root ?? INTEL_SGX_ROOT_CA_PEM)
}

/** A signed JSON document of a PCS response: its signature checked, then its text parsed. */
function verifySignedJson<T>(
  response: PcsResponse,
  root: PcsDocumentRoot,
  document: {
    readonly what: 'TCB info' | 'QE identity'
    readonly header: string
    readonly cut: (body: string | Uint8Array) => PcsSignedJson
    readonly parse: (text: string) => T
  },
): T {
  const { text, signature } = document.cut(response.body)
  const signer = verifyIssuerChain(
    decodeIssuerChainHeader(response.issuerChain, document.header),
    `${document.what} issuer chain`,
    [TCB_SIGNING_CN],
    trustedRoot(root ?? INTEL_SGX_ROOT_CA_PEM),
  )
  verifyDocumentSignature(stringToUtf8(text), signature, signer, document.what)
  return document.parse(text)
}

/**
 * A PCS `GET …/tcb` response whose signature and issuer chain are genuine, parsed (not yet judged
 * current, nor matched to a quote).
 *
 * @throws {@link MalformedInputError} `ERR_TDX_PCS_RESPONSE_INVALID`, `ERR_TDX_TCB_INFO_INVALID`;
 *   {@link VerificationError} `ERR_TDX_COLLATERAL_CHAIN`, `ERR_TDX_COLLATERAL_ROOT_UNTRUSTED`,
 *   `ERR_TDX_COLLATERAL_SIGNATURE`.
 */
export function verifyPcsTcbInfo(response: PcsResponse, root?: PcsDocumentRoot): TcbInfo {
  return verifySignedJson(response, root, {
    what: 'TCB info',
    header: PCS_ISSUER_CHAIN_HEADERS.tcbInfo,
    cut: parsePcsTcbInfoResponse,
    parse: parseTcbInfo,
  })
}

/**
 * A PCS `GET …/qe/identity` response whose signature and issuer chain are genuine, parsed.
 *
 * @throws as {@link verifyPcsTcbInfo}, with `ERR_TDX_QE_IDENTITY_INVALID` for the document.
 */
export function verifyPcsQeIdentity(response: PcsResponse, root?: PcsDocumentRoot): QeIdentity {
  return verifySignedJson(response, root, {
    what: 'QE identity',
    header: PCS_ISSUER_CHAIN_HEADERS.qeIdentity,
    cut: parsePcsQeIdentityResponse,
    parse: parseQeIdentity,
  })
}

/** A PCK CRL whose signature and issuer chain are genuine, and which CA issued it. */
export interface VerifiedPcsPckCrl {
  readonly crl: X509Crl
  readonly ca: 'platform' | 'processor'
}

/**
 * A PCS `GET …/pckcrl` response (DER, PEM or hex) signed by the PCK CA of its issuer chain, that
 * CA signed by the trusted root.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_CRL_INVALID` (and the DER reader's codes),
 *   `ERR_TDX_PCS_RESPONSE_INVALID`; {@link VerificationError} `ERR_TDX_COLLATERAL_CHAIN`,
 *   `ERR_TDX_COLLATERAL_ROOT_UNTRUSTED`, `ERR_TDX_CRL_SIGNATURE`, `ERR_TDX_CRL_ISSUER`.
 */
export function verifyPcsPckCrl(response: PcsResponse, root?: PcsDocumentRoot): VerifiedPcsPckCrl {
  const ca = verifyIssuerChain(
    decodeIssuerChainHeader(response.issuerChain, PCS_ISSUER_CHAIN_HEADERS.pckCrl),
    'PCK CRL issuer chain',
    [PLATFORM_CA_CN, PROCESSOR_CA_CN],
    trustedRoot(root ?? INTEL_SGX_ROOT_CA_PEM),
  )
  const crl = parseX509Crl(crlToDer(response.body, 'PCK CRL'), 'PCK CRL')
  verifyCrlSignature(crl, ca, 'PCK CRL')
  return { crl, ca: ca.commonName === PLATFORM_CA_CN ? 'platform' : 'processor' }
}

/**
 * The Root CA CRL (DER, PEM or hex) signed by the trusted root.
 *
 * @throws {@link MalformedInputError} `ERR_TDX_CRL_INVALID` (and the DER reader's codes);
 *   {@link VerificationError} `ERR_TDX_CRL_SIGNATURE`, `ERR_TDX_CRL_ISSUER`.
 */
export function verifyPcsRootCaCrl(body: string | Uint8Array, root?: PcsDocumentRoot): X509Crl {
  const crl = parseX509Crl(crlToDer(body, 'Root CA CRL'), 'Root CA CRL')
  verifyCrlSignature(crl, trustedRoot(root ?? INTEL_SGX_ROOT_CA_PEM), 'Root CA CRL')
  return crl
}

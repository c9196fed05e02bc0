/**
 * Test helpers for the collateral and TCB status tests: the TCB-relevant fields of a real quote
 * (read by offsets and a minimal DER walk of the PCK certificate, independent of the quote parser),
 * and a synthetic Intel-shaped PKI (root, TCB Signing, PCK Platform CA) that signs collateral.
 * Pure: the test files read the vectors; keys come from `node:crypto`, times are arguments.
 *
 * @module
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import {
  base64ToBytes,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  isInitguardError,
  parseDer,
  stringToUtf8,
  type DerElement,
  type InitguardError,
} from '@initguard/core'
import {
  X509_EXTENSION_OID,
  X509_NAME_OID,
  buildX509Certificate,
  buildX509Crl,
  derToPem,
  encodeBasicConstraints,
  type X509Name,
} from '@initguard/tee-simulator'
import type { DcapCollateral } from './collateral.ts'
import type { TcbStatusInput } from './tcb-status.ts'

/** Where the real vectors are, relative to this directory. */
export const VECTOR_ROOT: URL = new URL('../../../testdata/vectors/', import.meta.url)

/** Run `fn` and return the InitguardError it throws; fail on anything else. */
export function caught(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw new Error(`expected an InitguardError, got ${String(e)}`, { cause: e })
  }
  throw new Error('expected an InitguardError, nothing was thrown')
}

/** The code `fn` throws, or `'accepted'`. Anything but an InitguardError is re-thrown. */
export function codeOf(fn: () => unknown): string {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e.code
    throw e
  }
  return 'accepted'
}

const SGX_EXTENSION = '1.2.840.113741.1.13.1'

function find(el: DerElement, oid: string, what: string): DerElement {
  for (const entry of decodeDerSequence(el, what)) {
    const [id, value] = decodeDerSequence(entry, what)
    if (decodeDerOid(id, what) === oid && value !== undefined) return value
  }
  throw new Error(`${what}: ${oid} not found`)
}

/** The PCK certificate (first PEM block) of a quote's embedded certification data, as DER. */
export function pckCertificateDer(quote: Uint8Array): Uint8Array {
  const text = Buffer.from(quote).toString('latin1')
  const begin = text.indexOf('-----BEGIN CERTIFICATE-----')
  const end = text.indexOf('-----END CERTIFICATE-----', begin)
  if (begin < 0 || end < 0) throw new Error('no PEM certificate in the quote')
  const body = text.slice(begin + 27, end).replace(/\s+/g, '')
  return base64ToBytes(body)
}

/** FMSPC, PCE-ID, SGX TCB components and PCESVN from a PCK certificate's SGX extension. */
export function pckTcbOf(pckDer: Uint8Array): TcbStatusInput['pck'] {
  const tbs = decodeDerSequence(parseDer(pckDer), 'certificate')[0]
  const fields = decodeDerSequence(tbs, 'tbs')
  const extensions = decodeDerSequence(decodeDerExplicit(fields.at(-1), 3, 'ext'), 'extensions')
  for (const extension of extensions) {
    const parts = decodeDerSequence(extension, 'extension')
    if (decodeDerOid(parts[0], 'id') !== SGX_EXTENSION) continue
    const sgx = parseDer(decodeDerOctetString(parts.at(-1), 'value'))
    const tcb = find(sgx, `${SGX_EXTENSION}.2`, 'tcb')
    const cpuSvnComponents = Array.from({ length: 16 }, (_, i) =>
      Number(decodeDerInteger(find(tcb, `${SGX_EXTENSION}.2.${i + 1}`, 'comp'), 'comp')),
    )
    return {
      cpuSvnComponents,
      pceSvn: Number(decodeDerInteger(find(tcb, `${SGX_EXTENSION}.2.17`, 'pcesvn'), 'pcesvn')),
      pceId: decodeDerOctetString(find(sgx, `${SGX_EXTENSION}.3`, 'pceid'), 'pceid'),
      fmspc: decodeDerOctetString(find(sgx, `${SGX_EXTENSION}.4`, 'fmspc'), 'fmspc'),
    }
  }
  throw new Error('no SGX extension in the PCK certificate')
}

/**
 * The TCB status inputs of a real quote: v4 (TDX; QE report after the type-6 certification data
 * header) or v3 (SGX; QE report right after the attestation key).
 */
export function quoteTcbInput(quote: Uint8Array): TcbStatusInput {
  const view = new DataView(quote.buffer, quote.byteOffset, quote.byteLength)
  const version = view.getUint16(0, true)
  const tdx = view.getUint32(4, true) === 0x81
  const signed = version === 3 ? 0x1b0 : 0x278
  // u32 size, signature 64, attestation key 64, then (v4) certification data type u16 + size u32.
  const qeAt = signed + 4 + 64 + 64 + (version === 3 ? 0 : 6)
  const qe = quote.slice(qeAt, qeAt + 384)
  const qeView = new DataView(qe.buffer)
  return {
    pck: pckTcbOf(pckCertificateDer(quote)),
    ...(tdx
      ? {
          td: {
            teeTcbSvn: quote.slice(0x30, 0x40),
            mrSignerSeam: quote.slice(0x70, 0xa0),
            seamAttributes: quote.slice(0xa0, 0xa8),
          },
        }
      : {}),
    qe: {
      miscSelect: qe.slice(0x10, 0x14),
      attributes: qe.slice(0x30, 0x40),
      mrSigner: qe.slice(0x80, 0xa0),
      isvProdId: qeView.getUint16(0x100, true),
      isvSvn: qeView.getUint16(0x102, true),
    },
  }
}

/** A copy of `bytes` with bit `bit` of byte `index` flipped. */
export function flipBit(bytes: Uint8Array, index: number, bit = 0): Uint8Array {
  const out = bytes.slice()
  out[index] = (out[index] ?? 0) ^ (1 << bit)
  return out
}

/** A copy of `text` with bit 0 of the character at `index` flipped (ASCII stays ASCII). */
export function flipChar(text: string, index: number): string {
  return (
    text.slice(0, index) + String.fromCharCode(text.charCodeAt(index) ^ 1) + text.slice(index + 1)
  )
}

function intelName(commonName: string): X509Name {
  return [
    { oid: X509_NAME_OID.commonName, value: commonName },
    { oid: X509_NAME_OID.organizationName, value: 'Intel Corporation' },
    { oid: X509_NAME_OID.localityName, value: 'Santa Clara' },
    { oid: X509_NAME_OID.stateOrProvinceName, value: 'CA' },
    { oid: X509_NAME_OID.countryName, value: 'US' },
  ]
}

function p256(): { publicKey: KeyObject; privateKey: KeyObject } {
  return generateKeyPairSync('ec', { namedCurve: 'P-256' })
}

/** One certificate of the synthetic PKI. */
export interface TestCertificate {
  readonly pem: string
  readonly serial: bigint
  readonly privateKey: KeyObject
}

/** What {@link IntelTestPki.collateral} builds. */
export interface TestCollateralOptions {
  /** The TCB info JSON value; serialised with `JSON.stringify`. */
  readonly tcbInfo: unknown
  /** The QE identity JSON value. */
  readonly qeIdentity: unknown
  /** CRL window. */
  readonly thisUpdate: Date
  readonly nextUpdate: Date
  /** Serials the Root CA CRL revokes. */
  readonly revokedByRoot?: readonly bigint[]
  /** Serials the PCK CRL revokes. */
  readonly revokedByPckCa?: readonly bigint[]
  /** Append the root to the issuer chains (as Intel does). Default true. */
  readonly includeRoot?: boolean
}

/** A synthetic Intel-shaped PKI: same names as Intel's, its own keys. */
export interface IntelTestPki {
  readonly root: TestCertificate
  readonly tcbSigning: TestCertificate
  readonly pckCa: TestCertificate
  /** Sign collateral with this PKI. */
  collateral(options: TestCollateralOptions): DcapCollateral
}

/** Create a synthetic PKI whose certificates are valid from `notBefore` to `notAfter`. */
export function createIntelTestPki(notBefore: Date, notAfter: Date): IntelTestPki {
  const rootKeys = p256()
  const root: TestCertificate = {
    pem: derToPem(
      buildX509Certificate(
        {
          serialNumber: 0x1001n,
          issuer: intelName('Intel SGX Root CA'),
          subject: intelName('Intel SGX Root CA'),
          notBefore,
          notAfter,
          publicKey: rootKeys.publicKey,
          signatureAlgorithm: 'ecdsa-sha256',
          extensions: [
            {
              oid: X509_EXTENSION_OID.basicConstraints,
              critical: true,
              value: encodeBasicConstraints({ ca: true, pathLength: 1 }),
            },
          ],
        },
        rootKeys.privateKey,
      ),
    ),
    serial: 0x1001n,
    privateKey: rootKeys.privateKey,
  }
  const issue = (commonName: string, serial: bigint, issuerKey: KeyObject): TestCertificate => {
    const keys = p256()
    const der = buildX509Certificate(
      {
        serialNumber: serial,
        issuer: intelName('Intel SGX Root CA'),
        subject: intelName(commonName),
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signatureAlgorithm: 'ecdsa-sha256',
      },
      issuerKey,
    )
    return { pem: derToPem(der), serial, privateKey: keys.privateKey }
  }
  const tcbSigning = issue('Intel SGX TCB Signing', 0x2002n, root.privateKey)
  const pckCa = issue('Intel SGX PCK Platform CA', 0x3003n, root.privateKey)
  const crl = (
    issuer: string,
    key: KeyObject,
    revoked: readonly bigint[],
    options: TestCollateralOptions,
  ): Uint8Array =>
    buildX509Crl(
      {
        issuer: intelName(issuer),
        thisUpdate: options.thisUpdate,
        nextUpdate: options.nextUpdate,
        revoked: revoked.map((serialNumber) => ({
          serialNumber,
          revocationDate: options.thisUpdate,
        })),
        signatureAlgorithm: 'ecdsa-sha256',
      },
      key,
    )
  return {
    root,
    tcbSigning,
    pckCa,
    collateral(options) {
      const withRoot = options.includeRoot ?? true
      const chain = (c: TestCertificate): string => c.pem + (withRoot ? root.pem : '')
      const tcbInfo = JSON.stringify(options.tcbInfo)
      const qeIdentity = JSON.stringify(options.qeIdentity)
      const signJson = (text: string): Uint8Array =>
        new Uint8Array(
          sign('sha256', stringToUtf8(text), {
            key: tcbSigning.privateKey,
            dsaEncoding: 'ieee-p1363',
          }),
        )
      return {
        tcbInfo,
        tcbInfoSignature: signJson(tcbInfo),
        tcbInfoIssuerChain: chain(tcbSigning),
        qeIdentity,
        qeIdentitySignature: signJson(qeIdentity),
        qeIdentityIssuerChain: chain(tcbSigning),
        pckCrl: crl(
          'Intel SGX PCK Platform CA',
          pckCa.privateKey,
          options.revokedByPckCa ?? [],
          options,
        ),
        pckCrlIssuerChain: chain(pckCa),
        rootCaCrl: crl('Intel SGX Root CA', root.privateKey, options.revokedByRoot ?? [], options),
      }
    },
  }
}

/** A TDX TCB info JSON value with the given window and levels (defaults: one UpToDate level). */
export function tdxTcbInfoJson(
  issueDate: Date,
  nextUpdate: Date,
  levels: readonly unknown[] = [tdxLevelJson([2, 2, 2, 2, 3, 1, 0, 5], 11, [5, 0, 2], 'UpToDate')],
): Record<string, unknown> {
  const zeros = (bytes: number): string => '00'.repeat(bytes)
  return {
    id: 'TDX',
    version: 3,
    issueDate: issueDate.toISOString().replace('.000Z', 'Z'),
    nextUpdate: nextUpdate.toISOString().replace('.000Z', 'Z'),
    fmspc: 'B0C06F000000',
    pceId: '0000',
    tcbType: 0,
    tcbEvaluationDataNumber: 17,
    tdxModule: { mrsigner: zeros(48), attributes: zeros(8), attributesMask: 'FFFFFFFFFFFFFFFF' },
    tdxModuleIdentities: [
      {
        id: 'TDX_01',
        mrsigner: zeros(48),
        attributes: zeros(8),
        attributesMask: 'FFFFFFFFFFFFFFFF',
        tcbLevels: [
          { tcb: { isvsvn: 4 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' },
          {
            tcb: { isvsvn: 2 },
            tcbDate: '2023-08-09T00:00:00Z',
            tcbStatus: 'OutOfDate',
            advisoryIDs: ['INTEL-SA-99999'],
          },
        ],
      },
    ],
    tcbLevels: levels,
  }
}

/** One TDX TCB level JSON value; component lists are padded with zeros to 16. */
export function tdxLevelJson(
  sgx: readonly number[],
  pcesvn: number,
  tdx: readonly number[],
  tcbStatus: string,
  advisoryIDs?: readonly string[],
): Record<string, unknown> {
  const pad = (svns: readonly number[]): { svn: number }[] =>
    Array.from({ length: 16 }, (_, i) => ({ svn: svns[i] ?? 0 }))
  return {
    tcb: { sgxtcbcomponents: pad(sgx), pcesvn, tdxtcbcomponents: pad(tdx) },
    tcbDate: '2024-03-13T00:00:00Z',
    tcbStatus,
    ...(advisoryIDs === undefined ? {} : { advisoryIDs }),
  }
}

/** A TD_QE identity JSON value matching the real TDX quotes' QE. */
export function tdQeIdentityJson(issueDate: Date, nextUpdate: Date): Record<string, unknown> {
  return {
    id: 'TD_QE',
    version: 2,
    issueDate: issueDate.toISOString().replace('.000Z', 'Z'),
    nextUpdate: nextUpdate.toISOString().replace('.000Z', 'Z'),
    tcbEvaluationDataNumber: 17,
    miscselect: '00000000',
    miscselectMask: 'FFFFFFFF',
    attributes: '11000000000000000000000000000000',
    attributesMask: 'FBFFFFFFFFFFFFFF0000000000000000',
    mrsigner: 'DC9E2A7C6F948F17474E34A7FC43ED030F7C1563F1BABDDF6340C82E0E54A8C5',
    isvprodid: 2,
    tcbLevels: [{ tcb: { isvsvn: 4 }, tcbDate: '2024-03-13T00:00:00Z', tcbStatus: 'UpToDate' }],
  }
}

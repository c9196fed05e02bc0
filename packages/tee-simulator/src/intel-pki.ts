/**
 * A synthetic Intel SGX/TDX PKI for tests: a root, the two PCK CAs, the TCB Signing certificate and
 * PCK leaf certificates that mirror Intel's real ones in structure — names, serial-number and key
 * identifier conventions, extensions in Intel's order with Intel's encodings, the SGX extension
 * `1.2.840.113741.1.13.1` entry for entry — but are signed by keys generated here. Also the Root
 * CA CRL and the PCK CRLs, shaped like Intel's (CRL number, authority key identifier, a reason
 * code on every entry).
 *
 * ```text
 * Intel SGX Root CA  (self-signed, ECDSA P-256, ecdsa-with-SHA256, pathLen 1)
 *  ├─ Intel SGX PCK Platform CA   (pathLen 0) → Intel SGX PCK Certificate (with .6 and .7)
 *  ├─ Intel SGX PCK Processor CA  (pathLen 0) → Intel SGX PCK Certificate
 *  └─ Intel SGX TCB Signing       (leaf: signs TCB info and QE identities)
 * ```
 *
 * Checked against the real certificates in the vectors (`openssl asn1parse`): every name is
 * `CN, O=Intel Corporation, L=Santa Clara, ST=CA` as UTF8String then `C=US` as PrintableString;
 * CA and TCB Signing serial numbers equal their subject key identifiers; extensions come in the
 * order authority key identifier, CRL distribution point, subject key identifier, key usage
 * (critical), basic constraints (critical), then (PCK) the SGX extension.
 *
 * Pure: no clock (validity times come in), no randomness other than `node:crypto` key generation.
 *
 * @see Intel SGX PCK Certificate and CRL Profile Specification; verifiers.md §3.4.
 * @module
 */
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { UsageError, isEcKey } from '@initguard/core'
import type { TestKeyPair } from './amd-pki-types.ts'
import { buildX509Crl, encodeCrlNumber, encodeCrlReason } from './crl-builder.ts'
import {
  DEFAULT_PCK_TCB,
  encodeSgxPckExtension,
  INTEL_COMMON_NAME,
  INTEL_CRL_URL,
  INTEL_SGX_EXTENSION_OID,
  intelCertificateExtensions,
  intelName,
} from './intel-cert-profile.ts'
import type { SgxPckExtensionFields } from './intel-cert-profile.ts'
import {
  buildX509Certificate,
  derToPem,
  encodeAuthorityKeyIdentifier,
  keyIdentifierOf,
  X509_EXTENSION_OID,
} from './x509-builder.ts'
import type { X509Extension } from './x509-builder.ts'

/** Which CA issues a PCK certificate. */
export type IntelPckCa = 'platform' | 'processor'

/** One certificate of the Intel test PKI with its keys. */
export interface IntelTestCertificate {
  /** The certificate, DER. */
  readonly der: Uint8Array
  /** The certificate, PEM (one block, newline-terminated). */
  readonly pem: string
  /** The certificate parsed by `node:crypto`. */
  readonly x509: X509Certificate
  /** The serial number (for CRL entries). */
  readonly serialNumber: bigint
  /** The subject's public key. */
  readonly publicKey: KeyObject
  /** The subject's private key. */
  readonly privateKey: KeyObject
}

/**
 * A PCK certificate with what a quote needs: the PCK key signs the QE report and `chainPem` is the
 * certification data (type 5) of the quote. It is a `DcapQuoteSigner` as it stands.
 */
export interface IntelPckCertificate extends IntelTestCertificate {
  /** The CA that issued it. */
  readonly ca: IntelPckCa
  /** PCK ‖ PCK CA ‖ root, PEM: the chain a quote embeds. */
  readonly chainPem: string
}

/** Options for {@link createIntelTestPki}. */
export interface IntelTestPkiOptions {
  /** `notBefore` of the root, both PCK CAs and the TCB Signing certificate (whole seconds). */
  readonly notBefore: Date
  /** `notAfter` of the root, both PCK CAs and the TCB Signing certificate (whole seconds). */
  readonly notAfter: Date
  /** ECDSA P-256 key pairs to use instead of generating them. */
  readonly keys?: {
    readonly root?: TestKeyPair
    readonly platform?: TestKeyPair
    readonly processor?: TestKeyPair
    readonly tcbSigning?: TestKeyPair
  }
}

/**
 * Options for {@link IntelTestPki.issuePck}: the SGX extension's fields and the certificate's.
 * SGX fields left out: FMSPC, PCE-ID, components and PCESVN of `DEFAULT_PCK_TCB` (which the
 * default collateral rates UpToDate), CPUSVN = the components, a fixed digest-like PPID, SGX type
 * 1 (scalable) with a PlatformInstanceID and configuration flags all true for the Platform CA
 * (as on the real TDX PCK), SGX type 0 (standard) without .6/.7 for the Processor CA (as on the
 * real SGX PCK). `null` leaves .6 or .7 out.
 */
export interface IssuePckOptions extends Partial<SgxPckExtensionFields> {
  /** The issuing CA; picks the issuer, the CRL URL and the SGX type / .6 / .7 defaults. */
  readonly ca: IntelPckCa
  /** `notBefore` (whole seconds). Intel issues PCK certificates for 7 years. */
  readonly notBefore: Date
  /** `notAfter` (whole seconds). */
  readonly notAfter: Date
  /** The key pair to certify (ECDSA P-256). Default: a new pair. */
  readonly keyPair?: TestKeyPair
  /** Default: 20 bytes of SHA-256 of the public key, like Intel's 20-byte serials. */
  readonly serialNumber?: bigint
  /** Sign with this key instead of the CA's (for a certificate whose signature must not verify). */
  readonly issuerPrivateKey?: KeyObject
  /** Rewrite the extension list before signing (drop, add, reorder, change). */
  readonly editExtensions?: (extensions: readonly X509Extension[]) => readonly X509Extension[]
}

/** A revoked serial with details; a bare `bigint` means revoked at `thisUpdate`, keyCompromise. */
export interface IntelRevocation {
  readonly serialNumber: bigint
  /** Default: the CRL's `thisUpdate`. */
  readonly revocationDate?: Date
  /** CRL reason code; default 1 (keyCompromise, as on Intel's entries); `null` writes none. */
  readonly reasonCode?: number | null
}

/** Options for {@link IntelTestPki.rootCaCrl} and {@link IntelTestPki.pckCrl}. */
export interface IntelCrlOptions {
  /** `thisUpdate` (whole seconds). */
  readonly thisUpdate: Date
  /** `nextUpdate` (whole seconds). */
  readonly nextUpdate: Date
  /** Revoked serials. Default none. */
  readonly revoked?: readonly (bigint | IntelRevocation)[]
  /** The CRL number extension. Default 1 (as on Intel's CRLs). */
  readonly crlNumber?: bigint | number
  /** Sign with this key instead of the issuer's (for a CRL whose signature must not verify). */
  readonly issuerPrivateKey?: KeyObject
}

/** A synthetic Intel PKI, from {@link createIntelTestPki}. */
export interface IntelTestPki {
  /** `Intel SGX Root CA`: self-signed; pass `root.pem` as the verifier's trust anchor. */
  readonly root: IntelTestCertificate
  /** `Intel SGX PCK Platform CA`. */
  readonly platformCa: IntelTestCertificate
  /** `Intel SGX PCK Processor CA`. */
  readonly processorCa: IntelTestCertificate
  /** `Intel SGX TCB Signing`: signs TCB info and QE identities. */
  readonly tcbSigning: IntelTestCertificate
  /** TCB Signing then root, PEM: the TCB info and QE identity issuer chain. */
  readonly tcbSigningChainPem: string
  /** The PCK CA of that kind. */
  pckCa(ca: IntelPckCa): IntelTestCertificate
  /** PCK CA then root, PEM: the PCK CRL issuer chain. */
  pckCaChainPem(ca: IntelPckCa): string
  /**
   * Issue a PCK certificate (`CN=Intel SGX PCK Certificate`) with the SGX extension.
   *
   * @throws {@link UsageError} `ERR_INTEL_PKI_FIELD_INVALID`, `ERR_INTEL_PKI_KEY_INVALID`, and the
   *   X.509 builder's errors.
   */
  issuePck(options: IssuePckOptions): IntelPckCertificate
  /** The Root CA CRL (DER), signed by the root: revokes PCK CAs and TCB Signing certificates. */
  rootCaCrl(options: IntelCrlOptions): Uint8Array
  /** The PCK CRL of a CA (DER), signed by that CA: revokes PCK certificates. */
  pckCrl(ca: IntelPckCa, options: IntelCrlOptions): Uint8Array
}

function pkiError(code: `ERR_INTEL_PKI_${string}`, message: string, field: string): UsageError {
  return new UsageError(code, message, { details: { field } })
}

function p256KeyPair(given: TestKeyPair | undefined, field: string): TestKeyPair {
  if (given === undefined) return generateKeyPairSync('ec', { namedCurve: 'P-256' })
  if (
    !isEcKey(given.privateKey, 'prime256v1', 'private') ||
    !isEcKey(given.publicKey, 'prime256v1', 'public')
  ) {
    throw pkiError(
      'ERR_INTEL_PKI_KEY_INVALID',
      `${field} must be an ECDSA P-256 public key and private key`,
      field,
    )
  }
  return given
}

function bytesToBigInt(bytes: Uint8Array): bigint {
  let value = 0n
  for (const b of bytes) value = (value << 8n) | BigInt(b)
  return value
}

function certificate(
  der: Uint8Array,
  keys: TestKeyPair,
  serialNumber: bigint,
): IntelTestCertificate {
  return {
    der,
    pem: derToPem(der),
    x509: new X509Certificate(der),
    serialNumber,
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
  }
}

function defaultBytes(label: string, length: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`initguard-testkit ${label}`).digest()).slice(
    0,
    length,
  )
}

/**
 * Create a synthetic Intel SGX/TDX PKI: root, PCK Platform CA, PCK Processor CA and TCB Signing
 * certificate, all ECDSA P-256 with ecdsa-with-SHA256, named and extended like Intel's.
 *
 * @example
 * ```ts
 * const pki = createIntelTestPki({ notBefore, notAfter })
 * const pck = pki.issuePck({ ca: 'platform', notBefore, notAfter }) // default FMSPC, TCB
 * pck.x509.verify(pki.platformCa.publicKey) // true
 * ```
 *
 * @throws {@link UsageError} `ERR_INTEL_PKI_KEY_INVALID` for a given key pair that is not P-256;
 *   the X.509 builder's `ERR_X509_BUILD_TIME_INVALID` for times that are not whole seconds.
 */
export function createIntelTestPki(options: IntelTestPkiOptions): IntelTestPki {
  const { notBefore, notAfter } = options
  const rootKeys = p256KeyPair(options.keys?.root, 'keys.root')
  const rootName = intelName(INTEL_COMMON_NAME.root)
  const rootKeyId = keyIdentifierOf(rootKeys.publicKey)

  // Intel's CA and TCB Signing serial numbers are their 20-byte subject key identifiers.
  const issue = (
    keys: TestKeyPair,
    commonName: string,
    ca: { readonly pathLength: number } | undefined,
  ): IntelTestCertificate => {
    const keyId = keyIdentifierOf(keys.publicKey)
    const serialNumber = bytesToBigInt(keyId)
    const der = buildX509Certificate(
      {
        serialNumber,
        issuer: rootName,
        subject: intelName(commonName),
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signatureAlgorithm: 'ecdsa-sha256',
        extensions: intelCertificateExtensions(rootKeyId, INTEL_CRL_URL.root, keyId, ca),
      },
      rootKeys.privateKey,
    )
    return certificate(der, keys, serialNumber)
  }

  const root = issue(rootKeys, INTEL_COMMON_NAME.root, { pathLength: 1 })
  const platformCa = issue(
    p256KeyPair(options.keys?.platform, 'keys.platform'),
    INTEL_COMMON_NAME.platform,
    { pathLength: 0 },
  )
  const processorCa = issue(
    p256KeyPair(options.keys?.processor, 'keys.processor'),
    INTEL_COMMON_NAME.processor,
    { pathLength: 0 },
  )
  const tcbSigning = issue(
    p256KeyPair(options.keys?.tcbSigning, 'keys.tcbSigning'),
    INTEL_COMMON_NAME.tcbSigning,
    undefined,
  )
  const pckCa = (ca: IntelPckCa): IntelTestCertificate =>
    ca === 'platform' ? platformCa : processorCa

  const crl = (
    commonName: string,
    issuer: IntelTestCertificate,
    crlOptions: IntelCrlOptions,
  ): Uint8Array =>
    buildX509Crl(
      {
        issuer: intelName(commonName),
        thisUpdate: crlOptions.thisUpdate,
        nextUpdate: crlOptions.nextUpdate,
        signatureAlgorithm: 'ecdsa-sha256',
        revoked: (crlOptions.revoked ?? []).map((entry) => {
          const r = typeof entry === 'bigint' ? { serialNumber: entry } : entry
          const reason = r.reasonCode === undefined ? 1 : r.reasonCode
          return {
            serialNumber: r.serialNumber,
            revocationDate: r.revocationDate ?? crlOptions.thisUpdate,
            extensions:
              reason === null
                ? []
                : [{ oid: X509_EXTENSION_OID.crlReason, value: encodeCrlReason(reason) }],
          }
        }),
        extensions: [
          { oid: X509_EXTENSION_OID.crlNumber, value: encodeCrlNumber(crlOptions.crlNumber ?? 1) },
          {
            oid: X509_EXTENSION_OID.authorityKeyIdentifier,
            value: encodeAuthorityKeyIdentifier(keyIdentifierOf(issuer.publicKey)),
          },
        ],
      },
      crlOptions.issuerPrivateKey ?? issuer.privateKey,
    )

  return {
    root,
    platformCa,
    processorCa,
    tcbSigning,
    tcbSigningChainPem: tcbSigning.pem + root.pem,
    pckCa,
    pckCaChainPem: (ca) => pckCa(ca).pem + root.pem,
    issuePck(pckOptions: IssuePckOptions): IntelPckCertificate {
      const { ca } = pckOptions
      const issuer = pckCa(ca)
      const keys = p256KeyPair(pckOptions.keyPair, 'keyPair')
      const platform = ca === 'platform'
      const sgxFields: SgxPckExtensionFields = {
        ...DEFAULT_PCK_TCB,
        ppid: defaultBytes('ppid', 16),
        sgxType: platform ? 1 : 0,
        ...(platform
          ? {
              platformInstanceId: defaultBytes('platform instance id', 16),
              configuration: { dynamicPlatform: true, cachedKeys: true, smtEnabled: true },
            }
          : {}),
        ...pckOptions,
      }
      const extensions: X509Extension[] = [
        ...intelCertificateExtensions(
          keyIdentifierOf(issuer.publicKey),
          INTEL_CRL_URL[ca],
          keyIdentifierOf(keys.publicKey),
          undefined,
        ),
        { oid: INTEL_SGX_EXTENSION_OID.sgx, value: encodeSgxPckExtension(sgxFields) },
      ]
      const serialNumber =
        pckOptions.serialNumber ??
        bytesToBigInt(
          new Uint8Array(
            createHash('sha256')
              .update(keys.publicKey.export({ type: 'spki', format: 'der' }))
              .digest(),
          ).slice(0, 20),
        )
      const der = buildX509Certificate(
        {
          serialNumber,
          issuer: intelName(INTEL_COMMON_NAME[ca]),
          subject: intelName(INTEL_COMMON_NAME.pck),
          notBefore: pckOptions.notBefore,
          notAfter: pckOptions.notAfter,
          publicKey: keys.publicKey,
          signatureAlgorithm: 'ecdsa-sha256',
          extensions: pckOptions.editExtensions?.(extensions) ?? extensions,
        },
        pckOptions.issuerPrivateKey ?? issuer.privateKey,
      )
      const leaf = certificate(der, keys, serialNumber)
      return { ...leaf, ca, chainPem: leaf.pem + issuer.pem + root.pem }
    },
    rootCaCrl: (crlOptions) => crl(INTEL_COMMON_NAME.root, root, crlOptions),
    pckCrl: (ca, crlOptions) => crl(INTEL_COMMON_NAME[ca], pckCa(ca), crlOptions),
  }
}

/**
 * A synthetic AMD SEV-SNP PKI for tests: an ARK, an ASK (VCEK path) and optionally an ASVK (VLEK
 * path) per product, and VCEK/VLEK leaf certificates that mirror AMD's real ones byte for byte in
 * structure — names, extensions and their order and encodings, signature algorithm parameters —
 * but are signed by keys generated here.
 *
 * ```text
 * ARK-<Product>  (self-signed, RSA, RSASSA-PSS SHA-384)
 *  ├─ SEV-<Product>       ASK  → SEV-VCEK (ECDSA P-384), extensions 1.3.6.1.4.1.3704.1.*
 *  └─ SEV-VLEK-<Product>  ASVK → SEV-VLEK (ECDSA P-384), csp_id instead of hwID
 * ```
 *
 * Real AMD roots are RSA-4096; tests default to RSA-2048 because 4096-bit key generation takes
 * 0.5–2 s per key. The algorithm shape (rsaEncryption keys, RSASSA-PSS SHA-384 MGF1-SHA-384 salt
 * 48 signatures) is the same at every size.
 *
 * Pure: no clock (validity times come in), no randomness other than `node:crypto` key generation.
 *
 * @see verifiers.md §1.4 (chain), §1.5 (VCEK/VLEK extensions).
 * @module
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto'
import type { KeyObject } from 'node:crypto'
import { derIa5String, derInteger, derOctetString, derBitString } from './der-writer.ts'
import {
  buildX509Certificate,
  derToPem,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeCrlDistributionPoints,
  encodeKeyUsage,
  encodeSubjectKeyIdentifier,
  keyIdentifierOf,
  X509_EXTENSION_OID,
  X509_NAME_OID,
} from './x509-builder.ts'
import type { X509Extension, X509Name } from './x509-builder.ts'
import { builderError, type BuilderError } from './builder-error.ts'
import {
  AMD_EXTENSION_OID,
  type AmdLeafOptions,
  type AmdProduct,
  type AmdTestCertificate,
  type AmdTestPki,
  type AmdTestPkiOptions,
  type IssueVcekOptions,
  type IssueVlekOptions,
  type SnpTcbParts,
  type TestKeyPair,
} from './amd-pki-types.ts'

/** Serial numbers of AMD's real ARK, ASK and ASVK per product (Genoa's ASK is 0x020002). */
const CA_SERIALS: Readonly<Record<AmdProduct, { ark: bigint; ask: bigint; asvk: bigint }>> = {
  Milan: { ark: 0x010000n, ask: 0x010001n, asvk: 0x010101n },
  Genoa: { ark: 0x020000n, ask: 0x020002n, asvk: 0x020101n },
  Turin: { ark: 0x030000n, ask: 0x030001n, asvk: 0x030101n },
}

const DEFAULT_VCEK_PRODUCT_NAME: Readonly<Record<AmdProduct, string>> = {
  Milan: 'Milan-B0',
  Genoa: 'Genoa-B1',
  Turin: 'Turin',
}

const DEFAULT_RSA_MODULUS_LENGTH = 2048

const pkiError: BuilderError<'ERR_AMD_PKI_'> = builderError

/**
 * AMD's distinguished name with the given common name, attribute for attribute as on every real
 * ARK/ASK/ASVK/VCEK/VLEK: `OU=Engineering, C=US, L=Santa Clara, ST=CA, O=Advanced Micro Devices,
 * CN=<cn>`, all UTF8String except the PrintableString country.
 *
 * @example
 * ```ts
 * amdName('SEV-VCEK')
 * ```
 */
export function amdName(commonName: string): X509Name {
  return [
    { oid: X509_NAME_OID.organizationalUnitName, value: 'Engineering' },
    { oid: X509_NAME_OID.countryName, value: 'US', type: 'printable' },
    { oid: X509_NAME_OID.localityName, value: 'Santa Clara' },
    { oid: X509_NAME_OID.stateOrProvinceName, value: 'CA' },
    { oid: X509_NAME_OID.organizationName, value: 'Advanced Micro Devices' },
    { oid: X509_NAME_OID.commonName, value: commonName },
  ]
}

/** AMD's CRL URL for a product's VCEK or VLEK hierarchy, as in the CA certificates. */
function crlUrl(product: AmdProduct, kind: 'vcek' | 'vlek'): string {
  return `https://kdsintf.amd.com/${kind}/v1/${product}/crl`
}

function rsaKeyPair(given: TestKeyPair | undefined, modulusLength: number): TestKeyPair {
  if (given === undefined) return generateKeyPairSync('rsa', { modulusLength })
  const { privateKey, publicKey } = given
  const isRsa = (k: KeyObject): boolean =>
    k.asymmetricKeyType === 'rsa' || k.asymmetricKeyType === 'rsa-pss'
  if (
    privateKey.type !== 'private' ||
    publicKey.type !== 'public' ||
    !isRsa(privateKey) ||
    !isRsa(publicKey)
  ) {
    throw pkiError(
      'ERR_AMD_PKI_KEY_INVALID',
      'a CA key pair must be an RSA public key and an RSA private key',
      {
        privateKey: `${privateKey.type} ${privateKey.asymmetricKeyType ?? ''}`.trim(),
        publicKey: `${publicKey.type} ${publicKey.asymmetricKeyType ?? ''}`.trim(),
      },
    )
  }
  return given
}

function certificate(der: Uint8Array, keys: TestKeyPair): AmdTestCertificate {
  return {
    der,
    pem: derToPem(der),
    x509: new X509Certificate(der),
    publicKey: keys.publicKey,
    privateKey: keys.privateKey,
  }
}

function checkSpl(value: number | undefined, field: string): number {
  if (value === undefined || !Number.isInteger(value) || value < 0 || value > 255) {
    throw pkiError(
      'ERR_AMD_PKI_TCB_INVALID',
      `TCB ${field} must be an integer from 0 to 255 (got ${String(value)})`,
      { field, value: String(value) },
    )
  }
  return value
}

/** The SPL extensions in AMD's order for the product (verifiers.md §1.5; checked on real certs). */
function splExtensions(product: AmdProduct, tcb: SnpTcbParts): X509Extension[] {
  const ext = (oid: string, value: number): X509Extension => ({
    oid,
    value: derInteger(value),
  })
  const bl = ext(AMD_EXTENSION_OID.blSpl, checkSpl(tcb.bootloader, 'bootloader'))
  const tee = ext(AMD_EXTENSION_OID.teeSpl, checkSpl(tcb.tee, 'tee'))
  const snp = ext(AMD_EXTENSION_OID.snpSpl, checkSpl(tcb.snp, 'snp'))
  const ucode = ext(AMD_EXTENSION_OID.ucodeSpl, checkSpl(tcb.microcode, 'microcode'))
  const spl5to7 = [
    ext(AMD_EXTENSION_OID.spl5, 0),
    ext(AMD_EXTENSION_OID.spl6, 0),
    ext(AMD_EXTENSION_OID.spl7, 0),
  ]
  if (product === 'Turin') {
    // Real Turin VCEK: 3.9 (FMC) first, then 3.1, 3.2, 3.3, 3.5–3.7, 3.8; no 3.4.
    const fmc = ext(AMD_EXTENSION_OID.fmcSpl, checkSpl(tcb.fmc ?? 0, 'fmc'))
    return [fmc, bl, tee, snp, ...spl5to7, ucode]
  }
  if (tcb.fmc !== undefined) {
    throw pkiError(
      'ERR_AMD_PKI_TCB_INVALID',
      `TCB fmc is a Turin field; ${product} has no FMC SPL`,
      { product },
      'leave fmc out for Milan and Genoa',
    )
  }
  // Real Milan VCEKs and VLEKs: 3.1, 3.2, 3.4–3.7, then 3.3 and 3.8.
  return [bl, tee, ext(AMD_EXTENSION_OID.spl4, 0), ...spl5to7, snp, ucode]
}

function checkProduct(pkiProduct: AmdProduct, requested: AmdProduct | undefined): void {
  if (requested !== undefined && requested !== pkiProduct) {
    throw pkiError(
      'ERR_AMD_PKI_PRODUCT_MISMATCH',
      `this test PKI is for ${pkiProduct}; it cannot issue a ${requested} certificate`,
      { product: pkiProduct, requested },
      `create a PKI with createAmdTestPki({ product: '${requested}', … })`,
    )
  }
}

function leafKeyPair(given: TestKeyPair | undefined): TestKeyPair {
  return given ?? generateKeyPairSync('ec', { namedCurve: 'P-384' })
}

/**
 * Create a synthetic AMD PKI for one product: ARK, ASK and (with `withAsvk`) ASVK, shaped like
 * AMD's real certificates:
 *
 * - names from {@link amdName} with CN `ARK-<Product>`, `SEV-<Product>`, `SEV-VLEK-<Product>`;
 * - AMD's serials: ARK `0x010000`/`0x020000`/`0x030000` (Milan/Genoa/Turin), ASK
 *   `0x010001`/`0x020002`/`0x030001`, ASVK `0x010101`/`0x020101`/`0x030101`;
 * - rsaEncryption public keys, RSASSA-PSS SHA-384 signatures with explicit `trailerField`;
 * - ARK extensions: keyUsage (critical, keyCertSign|cRLSign), subjectKeyIdentifier,
 *   basicConstraints (critical, CA), CRL distribution point;
 * - ASK/ASVK extensions: subjectKeyIdentifier, authorityKeyIdentifier, basicConstraints
 *   (critical, CA, pathLen 0), keyUsage (critical, keyCertSign, AMD's `03 02 01 04`), CRL
 *   distribution point (`/vcek/…` or `/vlek/…`).
 *
 * @example
 * ```ts
 * const pki = createAmdTestPki({ product: 'Milan', notBefore, notAfter })
 * const vcek = pki.issueVcek({ chipId, tcb: { bootloader: 4, tee: 0, snp: 24, microcode: 219 }, notBefore, notAfter })
 * vcek.x509.verify(pki.ask.publicKey) // true
 * ```
 *
 * @throws {@link UsageError} `ERR_AMD_PKI_KEY_INVALID` for a given key pair that is not RSA; the X.509 builder's `ERR_X509_BUILD_TIME_INVALID` for times that are not whole seconds.
 */
export function createAmdTestPki(options: AmdTestPkiOptions): AmdTestPki {
  const { product, notBefore, notAfter } = options
  const modulusLength = options.rsaModulusLength ?? DEFAULT_RSA_MODULUS_LENGTH
  const serials = CA_SERIALS[product]

  const editCa = (
    which: 'ark' | 'ask' | 'asvk',
    extensions: readonly X509Extension[],
  ): readonly X509Extension[] => options.editCaExtensions?.[which]?.(extensions) ?? extensions
  const arkKeys = rsaKeyPair(options.keys?.ark, modulusLength)
  const arkName = amdName(`ARK-${product}`)
  const arkKeyId = keyIdentifierOf(arkKeys.publicKey)
  const ark = certificate(
    buildX509Certificate(
      {
        serialNumber: serials.ark,
        issuer: arkName,
        subject: arkName,
        notBefore,
        notAfter,
        publicKey: arkKeys.publicKey,
        signatureAlgorithm: 'rsassa-pss-sha384',
        pssTrailerField: 'explicit',
        extensions: editCa('ark', [
          {
            oid: X509_EXTENSION_OID.keyUsage,
            critical: true,
            value: encodeKeyUsage(['keyCertSign', 'cRLSign']),
          },
          {
            oid: X509_EXTENSION_OID.subjectKeyIdentifier,
            value: encodeSubjectKeyIdentifier(arkKeyId),
          },
          {
            oid: X509_EXTENSION_OID.basicConstraints,
            critical: true,
            value: encodeBasicConstraints({ ca: true }),
          },
          {
            oid: X509_EXTENSION_OID.crlDistributionPoints,
            value: encodeCrlDistributionPoints([crlUrl(product, 'vcek')]),
          },
        ]),
      },
      arkKeys.privateKey,
    ),
    arkKeys,
  )

  const intermediate = (
    kind: 'vcek' | 'vlek',
    given: TestKeyPair | undefined,
  ): AmdTestCertificate => {
    const keys = rsaKeyPair(given, modulusLength)
    const der = buildX509Certificate(
      {
        serialNumber: kind === 'vcek' ? serials.ask : serials.asvk,
        issuer: arkName,
        subject: amdName(kind === 'vcek' ? `SEV-${product}` : `SEV-VLEK-${product}`),
        notBefore,
        notAfter,
        publicKey: keys.publicKey,
        signatureAlgorithm: 'rsassa-pss-sha384',
        pssTrailerField: 'explicit',
        extensions: editCa(kind === 'vcek' ? 'ask' : 'asvk', [
          {
            oid: X509_EXTENSION_OID.subjectKeyIdentifier,
            value: encodeSubjectKeyIdentifier(keyIdentifierOf(keys.publicKey)),
          },
          {
            oid: X509_EXTENSION_OID.authorityKeyIdentifier,
            value: encodeAuthorityKeyIdentifier(arkKeyId),
          },
          {
            oid: X509_EXTENSION_OID.basicConstraints,
            critical: true,
            value: encodeBasicConstraints({ ca: true, pathLength: 0 }),
          },
          // AMD writes keyCertSign alone with one unused bit (03 02 01 04), not DER's two.
          {
            oid: X509_EXTENSION_OID.keyUsage,
            critical: true,
            value: derBitString(Uint8Array.of(0x04), 1),
          },
          {
            oid: X509_EXTENSION_OID.crlDistributionPoints,
            value: encodeCrlDistributionPoints([crlUrl(product, kind)]),
          },
        ]),
      },
      arkKeys.privateKey,
    )
    return certificate(der, keys)
  }

  const ask = intermediate('vcek', options.keys?.ask)
  const asvk = options.withAsvk === true ? intermediate('vlek', options.keys?.asvk) : undefined

  const leaf = (
    issuer: AmdTestCertificate,
    issuerCommonName: string,
    commonName: 'SEV-VCEK' | 'SEV-VLEK',
    leafOptions: AmdLeafOptions,
    extensions: readonly X509Extension[],
  ): AmdTestCertificate => {
    const keys = leafKeyPair(leafOptions.keyPair)
    const edited = leafOptions.editExtensions?.(extensions) ?? extensions
    const der = buildX509Certificate(
      {
        serialNumber: leafOptions.serialNumber ?? 0n,
        issuer: amdName(issuerCommonName),
        subject: amdName(commonName),
        notBefore: leafOptions.notBefore,
        notAfter: leafOptions.notAfter,
        publicKey: keys.publicKey,
        signatureAlgorithm: 'rsassa-pss-sha384',
        pssTrailerField: leafOptions.pssTrailerField ?? 'omitted',
        extensions: edited,
      },
      leafOptions.issuerPrivateKey ?? issuer.privateKey,
    )
    return certificate(der, keys)
  }

  const header = (productName: string, structVersion: number): X509Extension[] => [
    { oid: AMD_EXTENSION_OID.structVersion, value: derInteger(structVersion) },
    { oid: AMD_EXTENSION_OID.productName, value: derIa5String(productName) },
  ]

  return {
    product,
    ark,
    ask,
    asvk,
    vcekChainPem: ask.pem + ark.pem,
    vlekChainPem: asvk === undefined ? undefined : asvk.pem + ark.pem,
    issueVcek(vcekOptions: IssueVcekOptions): AmdTestCertificate {
      checkProduct(product, vcekOptions.product)
      const { chipId } = vcekOptions
      if (chipId.length !== 64) {
        throw pkiError(
          'ERR_AMD_PKI_CHIP_ID_INVALID',
          `chipId must be 64 bytes, as in the report's CHIP_ID (got ${chipId.length})`,
          { length: chipId.length },
          product === 'Turin'
            ? 'on Turin, put the 8-byte hwID first and zeros after it'
            : undefined,
        )
      }
      const hwId = product === 'Turin' ? chipId.slice(0, 8) : chipId.slice()
      const hwIdValue = vcekOptions.hwIdEncoding === 'octet-string' ? derOctetString(hwId) : hwId
      return leaf(ask, `SEV-${product}`, 'SEV-VCEK', vcekOptions, [
        ...header(
          vcekOptions.productName ?? DEFAULT_VCEK_PRODUCT_NAME[product],
          product === 'Turin' ? 1 : 0,
        ),
        ...splExtensions(product, vcekOptions.tcb),
        { oid: AMD_EXTENSION_OID.hwId, value: hwIdValue },
      ])
    },
    issueVlek(vlekOptions: IssueVlekOptions): AmdTestCertificate {
      checkProduct(product, vlekOptions.product)
      if (asvk === undefined) {
        throw pkiError(
          'ERR_AMD_PKI_NO_ASVK',
          `this ${product} test PKI has no ASVK, so it cannot issue VLEKs`,
          { product },
          'create the PKI with withAsvk: true',
        )
      }
      return leaf(asvk, `SEV-VLEK-${product}`, 'SEV-VLEK', vlekOptions, [
        ...header(vlekOptions.productName ?? product, product === 'Turin' ? 1 : 0),
        ...splExtensions(product, vlekOptions.tcb),
        {
          oid: AMD_EXTENSION_OID.cspId,
          value: derIa5String(vlekOptions.cspId ?? 'CN=initguard-test-csp'),
        },
      ])
    },
  }
}

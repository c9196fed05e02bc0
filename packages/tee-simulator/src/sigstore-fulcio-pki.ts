/**
 * A synthetic Fulcio CA for tests, shaped like sigstore's public one: a self-signed ECDSA P-384
 * root (`O=sigstore.dev, CN=sigstore`), an intermediate (`CN=sigstore-intermediate`, code-signing
 * EKU, path length 0), and ten-minute leaf certificates with an empty subject, a critical SAN
 * holding the signer's email, the code-signing EKU and the OIDC issuer extensions.
 *
 * ```text
 * 1.3.6.1.4.1.57264.1.1   OIDC issuer v1: extnValue = the raw issuer URL bytes
 * 1.3.6.1.4.1.57264.1.8   OIDC issuer v2: extnValue = DER UTF8String
 * ```
 *
 * Pure: validity times come in as arguments.
 *
 * @see sigstore/fulcio `docs/oid-info.md`; RFC 5280 §4.2.1.6, §4.2.1.12.
 * @module
 */
import type { KeyObject } from 'node:crypto'
import type { TestKeyPair } from './amd-pki-types.ts'
import { derIa5String, derImplicit, derOid, derSequence, derUtf8String } from './der-writer.ts'
import { generateSigstoreKeyPair } from './sigstore-builder.ts'
import {
  X509_EXTENSION_OID,
  X509_NAME_OID,
  buildX509Certificate,
  derToPem,
  encodeAuthorityKeyIdentifier,
  encodeBasicConstraints,
  encodeKeyUsage,
  type KeyUsageBit,
  encodeSubjectKeyIdentifier,
  keyIdentifierOf,
  type X509Extension,
  type X509Name,
} from './x509-builder.ts'

/** OIDs of a Fulcio leaf. */
export const FULCIO_TEST_OID = {
  issuerV1: '1.3.6.1.4.1.57264.1.1',
  issuerV2: '1.3.6.1.4.1.57264.1.8',
  subjectAltName: '2.5.29.17',
  extKeyUsage: '2.5.29.37',
  codeSigning: '1.3.6.1.5.5.7.3.3',
} as const

/** One certificate with its keys. */
export interface SigstoreTestCertificate {
  /** DER. */
  readonly der: Uint8Array
  /** PEM, one newline-terminated block. */
  readonly pem: string
  /** The certified key pair. */
  readonly keyPair: TestKeyPair
}

/** Options for {@link FulcioTestPki.issueLeaf}. */
export interface FulcioLeafOptions {
  /** `notBefore` (whole seconds); Fulcio leaves live ten minutes. */
  readonly notBefore: Date
  /** `notAfter` (whole seconds). */
  readonly notAfter: Date
  /** SAN `rfc822Name`s. Default none. */
  readonly emails?: readonly string[]
  /** The v1 issuer extension's raw value; absent when undefined. */
  readonly oidcIssuerV1?: string | Uint8Array | undefined
  /** The v2 issuer extension's value (a UTF8String); absent when undefined. */
  readonly oidcIssuerV2?: string
  /** The leaf key (ECDSA P-256 generated when absent). */
  readonly keyPair?: TestKeyPair
  /** Who signs the leaf. Default `'intermediate'`. */
  readonly issuedBy?: 'intermediate' | 'root'
  /** Extended key usage OIDs; default code signing; `null` leaves the extension out. */
  readonly extendedKeyUsage?: readonly string[] | null
  /** More extensions, appended as given. */
  readonly extraExtensions?: readonly X509Extension[]
}

/** A Fulcio-shaped CA. */
export interface FulcioTestPki {
  /** The self-signed root. */
  readonly root: SigstoreTestCertificate
  /** The intermediate that issues leaves. */
  readonly intermediate: SigstoreTestCertificate
  /** What a policy's `fulcio.caData` holds: the root PEM, as bytes. */
  readonly caPem: Uint8Array
  /** What cosign writes as `dev.sigstore.cosign/chain`: intermediate then root PEM. */
  readonly chainPem: string
  /** Issue a leaf. */
  issueLeaf(options: FulcioLeafOptions): SigstoreTestCertificate
}

/** Options for {@link createFulcioTestPki}. */
export interface FulcioTestPkiOptions {
  /** `notBefore` of the root and intermediate (whole seconds). */
  readonly notBefore: Date
  /** `notAfter` of the root and intermediate (whole seconds). */
  readonly notAfter: Date
  /** The intermediate's `cA` flag. Default true (false builds a broken chain). */
  readonly intermediateIsCa?: boolean
  /** The intermediate's key usage; default keyCertSign and cRLSign. */
  readonly intermediateKeyUsage?: readonly KeyUsageBit[]
  /** The intermediate's extended key usage; default code signing; `null` leaves it out. */
  readonly intermediateExtendedKeyUsage?: readonly string[] | null
  /** A name suffix, to tell two PKIs apart (`sigstore` → `sigstore-other`). */
  readonly name?: string
}

const name = (cn: string): X509Name => [
  { oid: X509_NAME_OID.organizationName, value: 'sigstore.dev', type: 'printable' },
  { oid: X509_NAME_OID.commonName, value: cn, type: 'printable' },
]

function ekuExtension(oids: readonly string[]): X509Extension {
  return { oid: FULCIO_TEST_OID.extKeyUsage, value: derSequence(oids.map((o) => derOid(o))) }
}

function certificate(der: Uint8Array, keyPair: TestKeyPair): SigstoreTestCertificate {
  return { der, pem: derToPem(der), keyPair }
}

function keyIds(subject: KeyObject, issuer: KeyObject): X509Extension[] {
  return [
    {
      oid: X509_EXTENSION_OID.subjectKeyIdentifier,
      value: encodeSubjectKeyIdentifier(keyIdentifierOf(subject)),
    },
    {
      oid: X509_EXTENSION_OID.authorityKeyIdentifier,
      value: encodeAuthorityKeyIdentifier(keyIdentifierOf(issuer)),
    },
  ]
}

/**
 * Create a Fulcio-shaped CA: root and intermediate, ECDSA P-384, signed with ECDSA SHA-384.
 *
 * @example
 * ```ts
 * const pki = createFulcioTestPki({ notBefore: new Date('2022-01-01Z'), notAfter: new Date('2032-01-01Z') })
 * const leaf = pki.issueLeaf({ notBefore, notAfter, emails: ['dev@example.com'], oidcIssuerV1: 'https://issuer' })
 * ```
 */
export function createFulcioTestPki(options: FulcioTestPkiOptions): FulcioTestPki {
  const suffix = options.name === undefined ? '' : `-${options.name}`
  const rootKeys = generateSigstoreKeyPair('ecdsa-p384')
  const intermediateKeys = generateSigstoreKeyPair('ecdsa-p384')
  const rootName = name(`sigstore${suffix}`)
  const intermediateName = name(`sigstore-intermediate${suffix}`)
  const root = certificate(
    buildX509Certificate(
      {
        serialNumber: 1n,
        issuer: rootName,
        subject: rootName,
        notBefore: options.notBefore,
        notAfter: options.notAfter,
        publicKey: rootKeys.publicKey,
        signatureAlgorithm: 'ecdsa-sha384',
        extensions: [
          {
            oid: X509_EXTENSION_OID.keyUsage,
            critical: true,
            value: encodeKeyUsage(['keyCertSign', 'cRLSign']),
          },
          {
            oid: X509_EXTENSION_OID.basicConstraints,
            critical: true,
            value: encodeBasicConstraints({ ca: true, pathLength: 1 }),
          },
          ...keyIds(rootKeys.publicKey, rootKeys.publicKey),
        ],
      },
      rootKeys.privateKey,
    ),
    rootKeys,
  )
  const intermediateEku =
    options.intermediateExtendedKeyUsage === undefined
      ? [FULCIO_TEST_OID.codeSigning]
      : options.intermediateExtendedKeyUsage
  const intermediate = certificate(
    buildX509Certificate(
      {
        serialNumber: 2n,
        issuer: rootName,
        subject: intermediateName,
        notBefore: options.notBefore,
        notAfter: options.notAfter,
        publicKey: intermediateKeys.publicKey,
        signatureAlgorithm: 'ecdsa-sha384',
        extensions: [
          {
            oid: X509_EXTENSION_OID.keyUsage,
            critical: true,
            value: encodeKeyUsage(options.intermediateKeyUsage ?? ['keyCertSign', 'cRLSign']),
          },
          ...(intermediateEku === null ? [] : [ekuExtension(intermediateEku)]),
          {
            oid: X509_EXTENSION_OID.basicConstraints,
            critical: true,
            value: encodeBasicConstraints(
              options.intermediateIsCa === false ? { ca: false } : { ca: true, pathLength: 0 },
            ),
          },
          ...keyIds(intermediateKeys.publicKey, rootKeys.publicKey),
        ],
      },
      rootKeys.privateKey,
    ),
    intermediateKeys,
  )
  let serial = 100n
  const issueLeaf = (leaf: FulcioLeafOptions): SigstoreTestCertificate => {
    const keyPair = leaf.keyPair ?? generateSigstoreKeyPair('ecdsa-p256')
    const issuer = leaf.issuedBy === 'root' ? root : intermediate
    const eku =
      leaf.extendedKeyUsage === undefined ? [FULCIO_TEST_OID.codeSigning] : leaf.extendedKeyUsage
    const emails = leaf.emails ?? []
    const v1 = leaf.oidcIssuerV1
    const extensions: X509Extension[] = [
      {
        oid: X509_EXTENSION_OID.keyUsage,
        critical: true,
        value: encodeKeyUsage(['digitalSignature']),
      },
      ...(eku === null ? [] : [ekuExtension(eku)]),
      ...keyIds(keyPair.publicKey, issuer.keyPair.publicKey),
      ...(emails.length === 0
        ? []
        : [
            {
              oid: FULCIO_TEST_OID.subjectAltName,
              critical: true,
              value: derSequence(emails.map((e) => derImplicit(1, derIa5String(e)))),
            },
          ]),
      ...(v1 === undefined
        ? []
        : [
            {
              oid: FULCIO_TEST_OID.issuerV1,
              value: typeof v1 === 'string' ? new TextEncoder().encode(v1) : v1,
            },
          ]),
      ...(leaf.oidcIssuerV2 === undefined
        ? []
        : [{ oid: FULCIO_TEST_OID.issuerV2, value: derUtf8String(leaf.oidcIssuerV2) }]),
      ...(leaf.extraExtensions ?? []),
    ]
    serial++
    const der = buildX509Certificate(
      {
        serialNumber: serial,
        issuer: leaf.issuedBy === 'root' ? rootName : intermediateName,
        subject: [],
        notBefore: leaf.notBefore,
        notAfter: leaf.notAfter,
        publicKey: keyPair.publicKey,
        signatureAlgorithm: 'ecdsa-sha384',
        extensions,
      },
      issuer.keyPair.privateKey,
    )
    return certificate(der, keyPair)
  }
  return {
    root,
    intermediate,
    caPem: new TextEncoder().encode(root.pem),
    chainPem: intermediate.pem + root.pem,
    issueLeaf,
  }
}

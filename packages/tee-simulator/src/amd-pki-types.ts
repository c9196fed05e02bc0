/**
 * The types of the synthetic AMD SEV-SNP PKI ({@link createAmdTestPki} in `amd-pki.ts`): products,
 * TCB parts, AMD's certificate extension OIDs, the options for the PKI and its VCEK/VLEK leaves, and
 * the certificates it returns. Apart so the builder reads as code; `TestKeyPair` is shared by the
 * other synthetic PKIs too.
 *
 * @module
 */
import type { KeyObject, X509Certificate } from 'node:crypto'
import type { X509Extension } from './x509-builder.ts'

/** An AMD EPYC product line with SEV-SNP. */
export type AmdProduct = 'Milan' | 'Genoa' | 'Turin'

/**
 * The security patch levels of a TCB, each 0–255. `fmc` exists on Turin only (and defaults to 0
 * there); on Milan and Genoa it must be absent.
 */
export interface SnpTcbParts {
  /** FMC_SPL (Turin only). */
  readonly fmc?: number
  /** BL_SPL: the boot loader. */
  readonly bootloader: number
  /** TEE_SPL: the PSP OS. */
  readonly tee: number
  /** SNP_SPL: the SNP firmware. */
  readonly snp: number
  /** UCODE_SPL: the microcode patch level. */
  readonly microcode: number
}

/** The AMD KDS certificate extension OIDs (arc `1.3.6.1.4.1.3704.1`), verifiers.md §1.5. */
export const AMD_EXTENSION_OID = {
  structVersion: '1.3.6.1.4.1.3704.1.1',
  productName: '1.3.6.1.4.1.3704.1.2',
  blSpl: '1.3.6.1.4.1.3704.1.3.1',
  teeSpl: '1.3.6.1.4.1.3704.1.3.2',
  snpSpl: '1.3.6.1.4.1.3704.1.3.3',
  spl4: '1.3.6.1.4.1.3704.1.3.4',
  spl5: '1.3.6.1.4.1.3704.1.3.5',
  spl6: '1.3.6.1.4.1.3704.1.3.6',
  spl7: '1.3.6.1.4.1.3704.1.3.7',
  ucodeSpl: '1.3.6.1.4.1.3704.1.3.8',
  fmcSpl: '1.3.6.1.4.1.3704.1.3.9',
  hwId: '1.3.6.1.4.1.3704.1.4',
  cspId: '1.3.6.1.4.1.3704.1.5',
} as const

/** A key pair as `node:crypto` generates it. */
export interface TestKeyPair {
  /** The public key. */
  readonly publicKey: KeyObject
  /** The private key. */
  readonly privateKey: KeyObject
}

/** One certificate of the test PKI with its keys. */
export interface AmdTestCertificate {
  /** The certificate, DER. */
  readonly der: Uint8Array
  /** The certificate, PEM (one block, newline-terminated). */
  readonly pem: string
  /** The certificate parsed by `node:crypto`. */
  readonly x509: X509Certificate
  /** The subject's public key. */
  readonly publicKey: KeyObject
  /** The subject's private key (signs the next certificate down, or reports for a VCEK/VLEK). */
  readonly privateKey: KeyObject
}

/** Options for {@link createAmdTestPki}. */
export interface AmdTestPkiOptions {
  /** The product line: names the ARK/ASK/ASVK, picks CRL URLs, serials and VCEK extensions. */
  readonly product: AmdProduct
  /** `notBefore` of the ARK, ASK and ASVK (whole seconds). */
  readonly notBefore: Date
  /** `notAfter` of the ARK, ASK and ASVK (whole seconds). */
  readonly notAfter: Date
  /** RSA modulus size of generated ARK/ASK/ASVK keys. Default 2048 (AMD uses 4096). */
  readonly rsaModulusLength?: number
  /** Also create the ASVK (needed by {@link AmdTestPki.issueVlek}). Default false. */
  readonly withAsvk?: boolean
  /**
   * RSA key pairs to use instead of generating them: keys made once and shared across PKIs save
   * time. Each must be a matching `'rsa'` (or `'rsa-pss'`) pair; a public key that does not match
   * its private key gives certificates whose signatures do not verify (which a negative test may
   * want).
   */
  readonly keys?: {
    readonly ark?: TestKeyPair
    readonly ask?: TestKeyPair
    readonly asvk?: TestKeyPair
  }
  /**
   * Rewrite the extension list of the ARK, ASK or ASVK before signing (for negative tests: a
   * signing certificate that is not a CA, or whose keyUsage lacks keyCertSign). Each receives the
   * AMD-shaped list.
   */
  readonly editCaExtensions?: {
    readonly ark?: (extensions: readonly X509Extension[]) => readonly X509Extension[]
    readonly ask?: (extensions: readonly X509Extension[]) => readonly X509Extension[]
    readonly asvk?: (extensions: readonly X509Extension[]) => readonly X509Extension[]
  }
}

/** Options shared by {@link AmdTestPki.issueVcek} and {@link AmdTestPki.issueVlek}. */
export interface AmdLeafOptions {
  /** The product; must equal the PKI's own when given. */
  readonly product?: AmdProduct
  /** The TCB the key is derived at; written as the SPL extensions. */
  readonly tcb: SnpTcbParts
  /** `notBefore` (whole seconds). AMD issues VCEKs for 7 years and VLEKs for 1. */
  readonly notBefore: Date
  /** `notAfter` (whole seconds). */
  readonly notAfter: Date
  /**
   * The productName extension value. Default: VCEK `Milan-B0`, `Genoa-B1`, `Turin`; VLEK `Milan`,
   * `Genoa`, `Turin` (AMD's VLEKs carry no stepping).
   */
  readonly productName?: string
  /**
   * The key pair to certify (AMD's are ECDSA P-384). Only the public key goes into the
   * certificate; the private key is handed back for signing reports. Default: a new P-384 pair.
   */
  readonly keyPair?: TestKeyPair
  /** Default `0n`, as on every real VCEK/VLEK. */
  readonly serialNumber?: bigint
  /**
   * Whether the RSASSA-PSS parameters spell out `trailerField [3] INTEGER 1`. Default `'omitted'`,
   * as on the VCEKs and VLEKs KDS issued from late 2024 on (Turin VCEK 2024-11, Milan VLEK
   * 2024-12, Milan VCEK 2026-02); the Milan VCEKs of 2022–2023 in the vectors have `'explicit'`.
   */
  readonly pssTrailerField?: 'explicit' | 'omitted'
  /**
   * Sign with this key instead of the ASK/ASVK's (for a certificate whose signature must not
   * verify).
   */
  readonly issuerPrivateKey?: KeyObject
  /**
   * Rewrite the extension list before signing: drop, add, reorder or change extensions for
   * negative tests. Receives the AMD-shaped list.
   */
  readonly editExtensions?: (extensions: readonly X509Extension[]) => readonly X509Extension[]
}

/** Options for {@link AmdTestPki.issueVcek}. */
export interface IssueVcekOptions extends AmdLeafOptions {
  /**
   * The chip ID, 64 bytes as in the report's CHIP_ID. Milan/Genoa write all 64 bytes as hwID;
   * Turin writes the first 8 (its CHIP_ID has zeros after them).
   */
  readonly chipId: Uint8Array
  /**
   * How hwID is stored in its `extnValue`: `'raw'` (the octets themselves, as KDS issues them;
   * default) or `'octet-string'` (a DER OCTET STRING holding them, seen in the field).
   */
  readonly hwIdEncoding?: 'raw' | 'octet-string'
}

/** Options for {@link AmdTestPki.issueVlek}. */
export interface IssueVlekOptions extends AmdLeafOptions {
  /** The csp_id extension (IA5String). Default `'CN=initguard-test-csp'`. */
  readonly cspId?: string
}

/** A synthetic AMD PKI for one product, from {@link createAmdTestPki}. */
export interface AmdTestPki {
  /** The product line. */
  readonly product: AmdProduct
  /** `ARK-<Product>`: self-signed root. */
  readonly ark: AmdTestCertificate
  /** `SEV-<Product>`: signs VCEKs. */
  readonly ask: AmdTestCertificate
  /** `SEV-VLEK-<Product>`: signs VLEKs; `undefined` unless `withAsvk` was set. */
  readonly asvk: AmdTestCertificate | undefined
  /** ASK then ARK, PEM, like KDS `/vcek/v1/<product>/cert_chain`. */
  readonly vcekChainPem: string
  /** ASVK then ARK, PEM, like KDS `/vlek/v1/<product>/cert_chain`; `undefined` without ASVK. */
  readonly vlekChainPem: string | undefined
  /**
   * Issue a VCEK (`CN=SEV-VCEK`, signed by the ASK) for a chip at a TCB.
   *
   * @throws {@link UsageError} `ERR_AMD_PKI_PRODUCT_MISMATCH`, `ERR_AMD_PKI_CHIP_ID_INVALID`,
   *   `ERR_AMD_PKI_TCB_INVALID`, and the X.509 builder's errors.
   */
  issueVcek(options: IssueVcekOptions): AmdTestCertificate
  /**
   * Issue a VLEK (`CN=SEV-VLEK`, signed by the ASVK).
   *
   * @throws {@link UsageError} `ERR_AMD_PKI_NO_ASVK` when the PKI was made without `withAsvk`,
   *   `ERR_AMD_PKI_PRODUCT_MISMATCH`, `ERR_AMD_PKI_TCB_INVALID`, and the X.509 builder's errors.
   */
  issueVlek(options: IssueVlekOptions): AmdTestCertificate
}

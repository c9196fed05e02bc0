/**
 * Intel's production SGX Root CA, pinned: the one trust anchor of SGX and TDX attestation. The PCK
 * certificate chain of every quote, the TCB Signing certificate that signs TCB info and QE
 * identities, and the PCK and Root CA CRLs all chain to it.
 *
 * Trust starts here and nowhere else: a root certificate that arrives with collateral or a quote is
 * accepted only when it is byte-identical to this one (or to the root a caller passes explicitly,
 * e.g. a test PKI's). The SHA-256 fingerprint of the DER lets a reviewer check it against the root
 * Intel publishes with its Provisioning Certification Service documentation.
 *
 * ```text
 * subject      CN=Intel SGX Root CA, O=Intel Corporation, L=Santa Clara, ST=CA, C=US
 * key          ECDSA P-256; self-signed with ecdsa-with-SHA256
 * validity     2018-05-21T10:45:10Z → 2049-12-31T23:59:59Z
 * SHA-256      44:A0:19:6B:2B:99:F8:89:B8:E1:49:E9:5B:80:7A:35:0E:74:24:96:43:99:E8:85:A7:CB:B8:CC:FA:B6:74:D3
 * CRL          https://certificates.trustedservices.intel.com/IntelSGXRootCA.der
 * ```
 *
 * @module
 */
import type { X509Certificate } from 'node:crypto'

/**
 * The Intel SGX Root CA certificate (PEM), SHA-256 of the DER
 * `44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3`.
 */
export const INTEL_SGX_ROOT_CA_PEM = `-----BEGIN CERTIFICATE-----
MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
-----END CERTIFICATE-----
`

/** SHA-256 of the DER of {@link INTEL_SGX_ROOT_CA_PEM}, lower-case hex. */
export const INTEL_SGX_ROOT_CA_SHA256 =
  '44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3'

/**
 * The trust anchor for Intel collateral and PCK chains: the root certificate as PEM text or a
 * parsed `X509Certificate`. Chains are accepted only when they end in exactly this certificate
 * (compared by DER bytes).
 *
 * @example
 * ```ts
 * verifyCollateral(collateral, { now, root: testPki.rootPem }) // trust a test PKI explicitly
 * ```
 */
export interface IntelTrustAnchor {
  /** The root certificate. */
  readonly root: string | X509Certificate
}

/** Intel's production trust anchor: {@link INTEL_SGX_ROOT_CA_PEM}. */
export const INTEL_PRODUCTION_ANCHOR: IntelTrustAnchor = { root: INTEL_SGX_ROOT_CA_PEM }

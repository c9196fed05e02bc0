/**
 * The RCAR messages of the KBS attestation protocol, version 0.4.0, in the JSON shapes Trustee's
 * KBS and CoCo's `kbs_protocol` client exchange (kbs-types 0.18). Keys keep their wire spelling
 * (`extra-params`, `tee-pubkey`, `primary_evidence`, …) so a parsed message serialises back to the
 * same JSON.
 *
 * ```text
 * client                                   KBS
 *   POST /kbs/v0/auth     KbsRequest   →
 *                                      ←   KbsChallenge + Set-Cookie: kbs-session-id=<32 hex>
 *   POST /kbs/v0/attest   KbsAttestation →
 *                                      ←   KbsAttestationToken {"token": EAR JWT}
 *   GET  /kbs/v0/resource/<repo>/<type>/<tag>  (cookie or Authorization: Bearer <token>)
 *                                      ←   KbsResourceJwe (flattened JWE, A256GCM)
 * errors                               ←   KbsErrorBody {"type": …/errors/<Variant>, "detail"}
 * ```
 *
 * @module
 */

/** The only protocol version this KBS and its client speak (Trustee requires `=0.4.0`). */
export const KBS_PROTOCOL_VERSION = '0.4.0'

/** The TEE names of `kbs_types::Tee` this project verifies. Others are refused by name. */
export type KbsTee = 'snp' | 'tdx' | 'sgx'

/** The TEEs this project verifies, in the order messages list them. */
export const KBS_SUPPORTED_TEES: readonly KbsTee[] = ['snp', 'tdx', 'sgx']

/**
 * Every TEE name of `kbs_types::Tee` (serde lowercase, kbs-types 0.18 and `nvidia-dpu`): a name
 * from this list that is not in {@link KBS_SUPPORTED_TEES} is a TEE we do not verify, anything
 * else is not a TEE name at all.
 */
export const KBS_TYPES_TEE_NAMES: readonly string[] = [
  'az-snp-vtpm',
  'az-tdx-vtpm',
  'nvidia',
  'nvidia-dpu',
  'sgx',
  'snp',
  'tdx',
  'cca',
  'csv',
  'se',
  'hygondcu',
  'tpm',
  'sample',
  'sampledevice',
]

/** `POST /kbs/v0/auth` body. `extra-params` is free-form JSON (the client sends its hash list). */
export interface KbsRequest {
  readonly version: string
  readonly tee: KbsTee
  readonly 'extra-params': unknown
}

/** `/auth` response: 32 random bytes, standard base64 (44 characters); `extra-params` is `""`. */
export interface KbsChallenge {
  readonly nonce: string
  readonly 'extra-params': string
}

/** The TEE's public key for the resource JWE, elliptic: `ECDH-ES+A256KW` on P-256/P-384/P-521. */
export interface EcTeePublicJwk {
  readonly kty: 'EC'
  readonly crv: 'P-256' | 'P-384' | 'P-521'
  readonly alg: 'ECDH-ES+A256KW'
  /** base64url, no padding, the curve's coordinate length. */
  readonly x: string
  readonly y: string
}

/** The TEE's public key for the resource JWE, RSA: `RSA-OAEP-256` (RSA1_5 is refused). */
export interface RsaTeePublicJwk {
  readonly kty: 'RSA'
  readonly alg: 'RSA-OAEP-256'
  /** base64url, no padding. */
  readonly n: string
  readonly e: string
}

/** A TEE public key as `runtime-data."tee-pubkey"` carries it. */
export type TeePublicJwk = EcTeePublicJwk | RsaTeePublicJwk

/** `init-data` of the attestation message: the exact TOML text the host gave the guest. */
export interface KbsInitData {
  readonly format: 'toml'
  readonly body: string
}

/** `runtime-data` of the attestation message. */
export interface KbsRuntimeData {
  readonly nonce: string
  readonly 'tee-pubkey': TeePublicJwk
}

/**
 * `tee-evidence` of the attestation message. `primary_evidence` is the TEE's evidence JSON in
 * Trustee's shape (SNP: the `sev` crate's `{attestation_report, cert_chain}`; TDX/SGX:
 * `{quote, cc_eventlog?}`); `additional_evidence` is a JSON string (usually `""`).
 */
export interface KbsTeeEvidence {
  readonly primary_evidence: unknown
  readonly additional_evidence: string
}

/** `POST /kbs/v0/attest` body. */
export interface KbsAttestation {
  readonly 'init-data'?: KbsInitData
  readonly 'runtime-data': KbsRuntimeData
  readonly 'tee-evidence': KbsTeeEvidence
}

/** `/attest` response. */
export interface KbsAttestationToken {
  readonly token: string
}

/**
 * `GET /kbs/v0/resource/…` response: a flattened JWE (RFC 7516 §7.2.2) without `aad`; the AES-GCM
 * AAD is the ASCII of `protected`. Every value is base64url without padding.
 */
export interface KbsResourceJwe {
  readonly protected: string
  readonly encrypted_key: string
  readonly iv: string
  readonly ciphertext: string
  readonly tag: string
}

/** The error body: `type` = `https://github.com/confidential-containers/kbs/errors/<Variant>`. */
export interface KbsErrorBody {
  readonly type: string
  readonly detail: string
}

/** The prefix of every error `type`. */
export const KBS_ERROR_TYPE_PREFIX = 'https://github.com/confidential-containers/kbs/errors/'

/** The name of the session cookie. */
export const KBS_SESSION_COOKIE = 'kbs-session-id'

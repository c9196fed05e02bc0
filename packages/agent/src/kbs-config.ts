/**
 * The KBS this agent talks to, read only from the verified init-data document's `aa.toml` and
 * `cdh.toml` (CoCo's keys, guest-side.md §4.1, §4.5):
 *
 * ```toml
 * # aa.toml                                # cdh.toml
 * [token_configs.kbs]                      [kbc]
 * url = "https://kbs.example:8443"         name = "cc_kbc"
 * cert = '''-----BEGIN CERTIFICATE-----…'''  url = "https://kbs.example:8443"
 * tee_key_algorithm = "ECDH-ES+A256KW-P256"  kbs_cert = '''-----BEGIN CERTIFICATE-----…'''
 * ```
 *
 * Unlike CoCo, where the certificate is one more trust root, here it is **pinned**: the KBS must
 * present exactly it. So an `https` URL without a certificate is refused (the KBS's identity must
 * come from the verified document, not from the guest's CA store), plain `http` is taken only when
 * the URL says so (and then a certificate is refused as unused), and when both files name a KBS
 * they must name the same URL and certificate.
 *
 * @module
 */
import type { X509Certificate } from 'node:crypto'
import { ExpectationError, MalformedInputError, pemCertificates } from '@initguard/core'
import type { TeeKeyKind } from '@initguard/kbs-protocol'
import { fromAaToml, fromCdhToml, type KbsConfigFile, type Named } from './kbs-config-toml.ts'

/** The KBS the verified documents name. */
export interface KbsEndpoint {
  /** `https://host:port[/prefix]` (or `http://…` when the document says so), no trailing `/`. */
  readonly url: string
  /** The certificate the KBS must present (PEM, one certificate); absent only for `http`. */
  readonly pinnedCertificatePem?: string
  /** The TEE key kind (`aa.toml` `tee_key_algorithm`; default P-256 as CoCo). */
  readonly teeKeyKind: TeeKeyKind
  /** The files that named it. */
  readonly namedBy: readonly KbsConfigFile[]
}

/** What the verified documents say about the KBS. */
export type KbsConfig =
  | { readonly kind: 'kbs'; readonly endpoint: KbsEndpoint; readonly warnings: readonly string[] }
  | { readonly kind: 'none'; readonly reason: string; readonly warnings: readonly string[] }

/** `aa.toml` `tee_key_algorithm` values and the key each means. */
const TEE_KEY_ALGORITHMS: Readonly<Record<string, TeeKeyKind>> = {
  'ECDH-ES+A256KW-P256': 'P-256',
  'ECDH-ES+A256KW-P521': 'P-521',
  'RSA-OAEP-256': 'RSA-2048',
}

function configError(
  code: `ERR_${string}`,
  named: Named,
  message: string,
  hint: string,
): MalformedInputError {
  return new MalformedInputError(code, `the verified init-data's ${named.file}: ${message}`, {
    details: { file: named.file },
    hint,
  })
}

/** The URL without a trailing `/`, checked: http(s), a host, no credentials, query or fragment. */
function normalUrl(named: Named): URL {
  let url: URL
  try {
    url = new URL(named.url)
  } catch {
    throw configError(
      'ERR_AGENT_KBS_URL',
      named,
      `${named.urlKey} is not a URL`,
      'write https://host:port',
    )
  }
  if (
    (url.protocol !== 'https:' && url.protocol !== 'http:') ||
    url.host === '' ||
    url.username !== '' ||
    url.password !== '' ||
    url.search !== '' ||
    url.hash !== ''
  )
    throw configError(
      'ERR_AGENT_KBS_URL',
      named,
      `${named.urlKey} must be https://host[:port][/path] (or http:// for a KBS without TLS), without credentials, query or fragment`,
      'write https://host:port',
    )
  return url
}

/** The DER of the one certificate in `pem`, or `ERR_AGENT_KBS_CERT`. */
function certificateDer(named: Named, pem: string): Buffer {
  let certificates: X509Certificate[] | undefined
  let cause: unknown
  try {
    certificates = pemCertificates(pem, `${named.file} ${named.certKey}`)
  } catch (error) {
    cause = error
  }
  const [only, ...more] = certificates ?? []
  if (only !== undefined && more.length === 0) return only.raw
  throw new MalformedInputError(
    'ERR_AGENT_KBS_CERT',
    `the verified init-data's ${named.file}: ${named.certKey} must be exactly one PEM certificate (the KBS's own, which is pinned); ${certificates === undefined ? 'it does not parse' : `it has ${certificates.length}`}`,
    {
      ...(cause === undefined ? {} : { cause }),
      details: { file: named.file, certificates: certificates?.length ?? 0 },
      hint: "paste the KBS's TLS certificate (e.g. kbs-data/tls/kbs-cert.pem) as a TOML multi-line literal string",
    },
  )
}

interface Checked {
  readonly named: Named
  readonly url: URL
  readonly der: Buffer | undefined
}

/** One file's KBS, checked on its own: the URL's scheme decides whether a certificate is needed. */
function checked(named: Named): Checked {
  const url = normalUrl(named)
  if (url.protocol === 'http:') {
    if (named.cert !== undefined)
      throw configError(
        'ERR_AGENT_KBS_CERT_UNUSED',
        named,
        `${named.urlKey} is plain http, so ${named.certKey} would not be used`,
        'use an https URL with the pinned certificate, or drop the certificate for a lab KBS without TLS',
      )
    return { named, url, der: undefined }
  }
  if (named.cert === undefined)
    throw new ExpectationError(
      'ERR_AGENT_KBS_CERT_MISSING',
      `the verified init-data's ${named.file} names the KBS ${url.origin} over https without ${named.certKey}; the KBS's identity must come from the verified document`,
      {
        details: { file: named.file, url: url.origin },
        hint: `add the KBS's TLS certificate as ${named.certKey} (it is pinned: the KBS must present exactly it), or write an http:// URL for a lab KBS without TLS`,
      },
    )
  return { named, url, der: certificateDer(named, named.cert) }
}

const withoutSlash = (url: URL): string => url.href.replace(/\/+$/, '')

/** `ERR_AGENT_KBS_CONFIG_CONFLICT` unless both files name the same URL and certificate. */
function agree(aa: Checked, cdh: Checked): void {
  const sameUrl = withoutSlash(aa.url) === withoutSlash(cdh.url)
  const sameCert =
    aa.der === undefined || cdh.der === undefined ? aa.der === cdh.der : aa.der.equals(cdh.der)
  if (sameUrl && sameCert) return
  const what = sameUrl ? 'certificates' : 'URLs'
  throw new MalformedInputError(
    'ERR_AGENT_KBS_CONFIG_CONFLICT',
    `the verified init-data names two KBSs: aa.toml ${aa.named.urlKey} and cdh.toml ${cdh.named.urlKey} differ in their ${what}${sameUrl ? '' : ` (${withoutSlash(aa.url)} and ${withoutSlash(cdh.url)})`}`,
    {
      details: { files: ['aa.toml', 'cdh.toml'], differ: what },
      hint: 'give both files the same KBS URL and the same certificate (cert and kbs_cert), or name the KBS in only one of them',
    },
  )
}

/**
 * The KBS named by the verified documents' `aa.toml` and `cdh.toml` (`data` is the document's
 * `[data]` map), `none` with the reason when neither names one, and warnings for unknown keys.
 *
 * @throws {@link MalformedInputError} `ERR_AGENT_CONFIG_TOML`, `ERR_AGENT_CONFIG_TYPE`,
 *   `ERR_AGENT_KBS_URL`, `ERR_AGENT_KBS_CERT`, `ERR_AGENT_KBS_CERT_UNUSED`,
 *   `ERR_AGENT_KBS_CONFIG_CONFLICT`, `ERR_AGENT_KBS_TEE_KEY_ALGORITHM`;
 *   {@link ExpectationError} `ERR_AGENT_KBS_CERT_MISSING` (https without a certificate),
 *   `ERR_AGENT_KBC_UNSUPPORTED` (a `[kbc] name` other than `cc_kbc`).
 */
export function kbsConfigFromInitdata(data: ReadonlyMap<string, string>): KbsConfig {
  const warnings: string[] = []
  const aaText = data.get('aa.toml')
  const cdhText = data.get('cdh.toml')
  const aa = aaText === undefined ? undefined : fromAaToml(aaText, warnings)
  const cdh = cdhText === undefined ? undefined : fromCdhToml(cdhText, warnings)
  const aaChecked = aa === undefined ? undefined : checked(aa)
  const cdhChecked = cdh === undefined ? undefined : checked(cdh)
  if (aaChecked !== undefined && cdhChecked !== undefined) agree(aaChecked, cdhChecked)
  const chosen = aaChecked ?? cdhChecked
  if (chosen === undefined)
    return {
      kind: 'none',
      reason:
        'the verified init-data names no KBS (neither aa.toml [token_configs.kbs] url nor cdh.toml [kbc] url)',
      warnings,
    }
  const teeKeyName = aa?.teeKey
  const teeKeyKind = teeKeyName === undefined ? 'P-256' : TEE_KEY_ALGORITHMS[teeKeyName]
  if (teeKeyKind === undefined)
    throw new MalformedInputError(
      'ERR_AGENT_KBS_TEE_KEY_ALGORITHM',
      `the verified init-data's aa.toml: [token_configs.kbs] tee_key_algorithm ${JSON.stringify(teeKeyName?.slice(0, 40))} is not one this agent supports`,
      {
        details: { file: 'aa.toml', key: 'token_configs.kbs.tee_key_algorithm' },
        hint: `use one of ${Object.keys(TEE_KEY_ALGORITHMS).join(', ')}, or leave it out (P-256)`,
      },
    )
  return {
    kind: 'kbs',
    endpoint: {
      url: withoutSlash(chosen.url),
      ...(chosen.named.cert === undefined ? {} : { pinnedCertificatePem: chosen.named.cert }),
      teeKeyKind,
      namedBy: [aaChecked, cdhChecked].flatMap((c) => (c === undefined ? [] : [c.named.file])),
    },
    warnings,
  }
}

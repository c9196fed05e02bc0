/**
 * The declared shape of each TEE's claims as a workload's CEL expression sees them (`snp`, `tdx`,
 * `sgx`): every field name, and its CEL type.
 *
 * The claims come from the verifiers (`trusteeSnpClaims`, `trusteeDcapClaims`); a map
 * without declared fields let a misspelled name (`snp.measurment`) or a comparison with the wrong
 * type (`snp.vmpl == "0"`) through at `put`, to fail at every appraisal ("could not be evaluated",
 * or a constant false). Declared, they are refused when the definition is validated. The
 * declaration is kept equal to what the verifiers emit by a test over real evidence
 * (`claims-schema.test.ts`).
 *
 * @module
 */
import type { KbsTee } from '@initguard/kbs-protocol'

/**
 * A claim's CEL type (`dyn` for a string that may be null: a literal of another type compared with
 * one is refused at put), or the fields of a nested object.
 */
export type ClaimType = 'string' | 'int' | 'bool' | 'dyn' | 'list<string>' | ClaimFields

/** The fields of a claims object, by name. */
export interface ClaimFields {
  readonly [field: string]: ClaimType
}

const HEX = 'string'

/** The 48-byte DCAP quote header, as Trustee's names. */
const QUOTE_HEADER: ClaimFields = {
  version: HEX,
  att_key_type: HEX,
  tee_type: HEX,
  reserved: HEX,
  vendor_id: HEX,
  user_data: HEX,
}

/** What the DCAP verifier adds to the body claims of every verified quote. */
const DCAP_VERIFICATION: ClaimFields = {
  tcb_status: 'string',
  advisory_ids: 'list<string>',
  /** ISO 8601, or null when the matched level has none. */
  tcb_date: 'dyn',
  tcb_evaluation_data_number: 'int',
  fmspc: HEX,
  pce_id: HEX,
  pck_ca: 'string',
  platform_instance_id: HEX,
}

/** Each TEE's claims, as `trusteeSnpClaims` and `trusteeDcapClaims` build them. */
export const TEE_CLAIM_FIELDS: Readonly<Record<KbsTee, ClaimFields>> = {
  snp: {
    measurement: HEX,
    chip_id: HEX,
    policy_abi_major: 'int',
    policy_abi_minor: 'int',
    policy_smt_allowed: 'bool',
    policy_migrate_ma: 'bool',
    policy_debug_allowed: 'bool',
    policy_single_socket: 'bool',
    platform_tsme_enabled: 'bool',
    platform_smt_enabled: 'bool',
    reported_tcb_bootloader: 'int',
    reported_tcb_tee: 'int',
    reported_tcb_snp: 'int',
    reported_tcb_microcode: 'int',
    reported_tcb_fmc: 'int',
    report_version: 'int',
    product: 'string',
    signing_key: 'string',
    vmpl: 'int',
    guest_svn: 'int',
    family_id: HEX,
    image_id: HEX,
    id_key_digest: HEX,
    author_key_digest: HEX,
  },
  tdx: {
    quote: {
      header: QUOTE_HEADER,
      body: {
        tcb_svn: HEX,
        mr_seam: HEX,
        mrsigner_seam: HEX,
        seam_attributes: HEX,
        td_attributes: HEX,
        xfam: HEX,
        mr_td: HEX,
        mr_config_id: HEX,
        mr_owner: HEX,
        mr_owner_config: HEX,
        rtmr_0: HEX,
        rtmr_1: HEX,
        rtmr_2: HEX,
        rtmr_3: HEX,
        report_data: HEX,
        tee_tcb_svn2: HEX,
        mr_servicetd: HEX,
      },
    },
    td_attributes: {
      debug: 'bool',
      key_locker: 'bool',
      perfmon: 'bool',
      protection_keys: 'bool',
      septve_disable: 'bool',
    },
    ...DCAP_VERIFICATION,
  },
  sgx: {
    header: QUOTE_HEADER,
    body: {
      cpu_svn: HEX,
      misc_select: HEX,
      attributes: HEX,
      mr_enclave: HEX,
      mr_signer: HEX,
      config_id: HEX,
      isv_prod_id: 'int',
      isv_svn: 'int',
      config_svn: 'int',
      isv_family_id: HEX,
      isv_ext_prod_id: HEX,
      report_data: HEX,
    },
    attributes: {
      debug: 'bool',
      mode64bit: 'bool',
      kss: 'bool',
      provision_key: 'bool',
    },
    ...DCAP_VERIFICATION,
  },
}

/**
 * The declared claims some evidence does not have (dotted paths under the TEE): an absent one
 * fails `has()`, and an expression reading it without `has()` does not hold for that evidence.
 */
export const OPTIONAL_CLAIMS: Readonly<Record<KbsTee, readonly string[]>> = {
  /** FMC is in the TCB of Turin and later only. */
  snp: ['reported_tcb_fmc'],
  /** TEE_TCB_SVN2 and MRSERVICETD are in TDX 1.5 quotes only; the instance id in some PCK certificates. */
  tdx: ['quote.body.tee_tcb_svn2', 'quote.body.mr_servicetd', 'platform_instance_id'],
  sgx: ['platform_instance_id'],
}

/**
 * The length in bytes of each claim that is hex (lower-case, two digits a byte), by dotted path
 * under the TEE: a string literal compared with one must be lower-case hex of that length, or the
 * comparison is constant (`snp.measurement != "AB…"` held for every guest). Kept equal to what the
 * verifiers emit by the same test over real evidence as the declaration.
 */
export const HEX_CLAIM_BYTES: Readonly<Record<KbsTee, Readonly<Record<string, number>>>> = (() => {
  const header = {
    'header.version': 2,
    'header.att_key_type': 2,
    'header.tee_type': 4,
    'header.reserved': 4,
    'header.vendor_id': 16,
    'header.user_data': 20,
  }
  const dcap = { fmspc: 6, pce_id: 2, platform_instance_id: 16 }
  const prefixed = (prefix: string, lengths: Record<string, number>): Record<string, number> =>
    Object.fromEntries(Object.entries(lengths).map(([path, n]) => [`${prefix}${path}`, n]))
  return {
    snp: {
      measurement: 48,
      chip_id: 64,
      family_id: 16,
      image_id: 16,
      id_key_digest: 48,
      author_key_digest: 48,
    },
    tdx: {
      ...prefixed('quote.', header),
      ...prefixed('quote.body.', {
        tcb_svn: 16,
        mr_seam: 48,
        mrsigner_seam: 48,
        seam_attributes: 8,
        td_attributes: 8,
        xfam: 8,
        mr_td: 48,
        mr_config_id: 48,
        mr_owner: 48,
        mr_owner_config: 48,
        rtmr_0: 48,
        rtmr_1: 48,
        rtmr_2: 48,
        rtmr_3: 48,
        report_data: 64,
        tee_tcb_svn2: 16,
        mr_servicetd: 48,
      }),
      ...dcap,
    },
    sgx: {
      ...header,
      ...prefixed('body.', {
        cpu_svn: 16,
        misc_select: 4,
        attributes: 16,
        mr_enclave: 32,
        mr_signer: 32,
        config_id: 64,
        isv_family_id: 16,
        isv_ext_prod_id: 16,
        report_data: 64,
      }),
      ...dcap,
    },
  }
})()

/** The dotted paths of every leaf `fields` declares (`quote.body.mr_td`), with their types. */
export function claimLeaves(fields: ClaimFields, prefix = ''): Map<string, ClaimType> {
  const leaves = new Map<string, ClaimType>()
  for (const [name, type] of Object.entries(fields)) {
    if (typeof type === 'string') leaves.set(`${prefix}${name}`, type)
    else for (const entry of claimLeaves(type, `${prefix}${name}.`)) leaves.set(...entry)
  }
  return leaves
}

/**
 * `claims` as the CEL expression reads them: integer fields as `BigInt` (CEL's `int`; a JS number
 * is a CEL `double`, which the declared `int` field refuses), nested objects likewise. The token
 * keeps the verifier's numbers; only the expression's activation is converted.
 */
export function celClaimValues(fields: ClaimFields, claims: unknown): unknown {
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return claims
  const out: Record<string, unknown> = {}
  for (const [name, value] of Object.entries(claims as Record<string, unknown>)) {
    const type = fields[name]
    if (type === 'int' && typeof value === 'number' && Number.isSafeInteger(value)) {
      out[name] = BigInt(value)
    } else if (type !== undefined && typeof type === 'object') {
      out[name] = celClaimValues(type, value)
    } else out[name] = value
  }
  return out
}

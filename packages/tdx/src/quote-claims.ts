/**
 * The claims of a verified quote. The `quote.header` / `quote.body` part uses the names and
 * encodings Trustee's TDX verifier emits (raw little-endian bytes as hex), so policies written for
 * Trustee read ours; TCB status, advisories and FMSPC are added.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import type { DcapQuote, SgxQuoteBody } from './quote.ts'
import type { TdQuoteBody } from './td-quote-body.ts'
import type { TcbEvaluation } from './tcb-status.ts'
import type { VerifiedPckChain } from './pck-chain.ts'

/** Claims of a TDX or SGX quote. */
export type QuoteClaims = Readonly<Record<string, unknown>> & {
  readonly tee: 'tdx' | 'sgx'
  readonly init_data: string
  readonly report_data: string
  readonly tcb_status: string
  readonly advisory_ids: readonly string[]
}

const hex = bytesToHex

/**
 * The hex of `bytes`, cut into fields: one encoding of the whole, then slices of it, which is
 * what makes claims cheap enough to compute for every quote.
 */
function hexFields(bytes: Uint8Array): (offset: number, length: number) => string {
  const text = hex(bytes)
  return (offset, length) => text.slice(2 * offset, 2 * (offset + length))
}

function headerClaims(quote: DcapQuote): Record<string, string> {
  const at = hexFields(quote.header.raw)
  return {
    version: at(0, 2),
    att_key_type: at(2, 2),
    tee_type: at(4, 4),
    reserved: at(8, 4),
    vendor_id: at(12, 16),
    user_data: at(28, 20),
  }
}

/**
 * The claims a quote makes by itself, before any verification: the TEE, the init-data binding,
 * REPORTDATA, the Trustee-named `quote.header` / `quote.body`, and the decoded attributes.
 * `evidence inspect` shows these under the same names `evidence verify` uses.
 */
export function quoteBodyClaims(quote: DcapQuote): Readonly<Record<string, unknown>> & {
  readonly tee: 'tdx' | 'sgx'
  readonly init_data: string
  readonly report_data: string
} {
  return bodyClaims(quote, {})
}

type HexAt = (offset: number, length: number) => string

/** What differs between the kinds of body: the Trustee-named fields and the decoded attributes. */
interface BodyParts {
  readonly tee: 'tdx' | 'sgx'
  readonly initData: string
  readonly reportData: string
  readonly fields: Record<string, string | number>
  readonly attributesName: 'attributes' | 'td_attributes'
  readonly attributes: Record<string, boolean>
}

// Offsets are those of the body layouts (enclave-report.ts, td-quote-body.ts).
function sgxParts(body: SgxQuoteBody, at: HexAt): BodyParts {
  const configId = at(0x0c0, 64)
  const reportData = at(0x140, 64)
  return {
    tee: 'sgx',
    initData: configId,
    reportData,
    fields: {
      cpu_svn: at(0x000, 16),
      misc_select: at(0x010, 4),
      attributes: at(0x030, 16),
      mr_enclave: at(0x040, 32),
      mr_signer: at(0x080, 32),
      config_id: configId,
      isv_prod_id: body.isvProdId,
      isv_svn: body.isvSvn,
      config_svn: body.configSvn,
      isv_family_id: at(0x130, 16),
      isv_ext_prod_id: at(0x020, 16),
      report_data: reportData,
    },
    attributesName: 'attributes',
    attributes: {
      debug: body.attributes.debug,
      mode64bit: body.attributes.mode64Bit,
      kss: body.attributes.kss,
      provision_key: body.attributes.provisionKey,
    },
  }
}

function tdParts(body: TdQuoteBody, at: HexAt): BodyParts {
  const mrConfigId = at(0x0b8, 48)
  const reportData = at(0x208, 64)
  return {
    tee: 'tdx',
    initData: mrConfigId,
    reportData,
    fields: {
      tcb_svn: at(0x000, 16),
      mr_seam: at(0x010, 48),
      mrsigner_seam: at(0x040, 48),
      seam_attributes: at(0x070, 8),
      td_attributes: at(0x078, 8),
      xfam: at(0x080, 8),
      mr_td: at(0x088, 48),
      mr_config_id: mrConfigId,
      mr_owner: at(0x0e8, 48),
      mr_owner_config: at(0x118, 48),
      rtmr_0: at(0x148, 48),
      rtmr_1: at(0x178, 48),
      rtmr_2: at(0x1a8, 48),
      rtmr_3: at(0x1d8, 48),
      report_data: reportData,
      ...(body.kind === 'td15' ? { tee_tcb_svn2: at(0x248, 16), mr_servicetd: at(0x258, 48) } : {}),
    },
    attributesName: 'td_attributes',
    attributes: {
      debug: body.tdAttributes.debug,
      key_locker: body.tdAttributes.keyLocker,
      perfmon: body.tdAttributes.perfmon,
      protection_keys: body.tdAttributes.pks,
      septve_disable: body.tdAttributes.septVeDisable,
    },
  }
}

/** The body claims followed by `more` (one object built once: spreading costs more than this). */
function bodyClaims<T extends object>(
  quote: DcapQuote,
  more: T,
): T & { readonly tee: 'tdx' | 'sgx'; readonly init_data: string; readonly report_data: string } {
  const body = quote.body
  const at = hexFields(quote.rawBody)
  const parts = body.kind === 'sgx' ? sgxParts(body, at) : tdParts(body, at)
  return Object.assign(
    {
      tee: parts.tee,
      init_data: parts.initData,
      report_data: parts.reportData,
      quote: { header: headerClaims(quote), body: parts.fields },
      [parts.attributesName]: parts.attributes,
    },
    more,
  )
}

/** The claims of a quote whose chain, signatures and collateral verified. */
export function quoteClaims(
  quote: DcapQuote,
  tcb: TcbEvaluation,
  pck: VerifiedPckChain,
): QuoteClaims {
  const sgx = pck.info.sgx
  return bodyClaims(quote, {
    tcb_status: tcb.status,
    advisory_ids: [...tcb.advisoryIds],
    tcb_date: tcb.tcbDate?.toISOString() ?? null,
    tcb_evaluation_data_number: tcb.tcbEvaluationDataNumber,
    fmspc: hex(sgx.fmspc),
    pce_id: hex(sgx.pceId),
    pck_ca: pck.caKind,
    ...(sgx.platformInstanceId === undefined
      ? {}
      : { platform_instance_id: hex(sgx.platformInstanceId) }),
  })
}

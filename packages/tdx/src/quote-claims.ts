/**
 * The claims of a verified quote. The `quote.header` / `quote.body` part uses the names and
 * encodings Trustee's TDX verifier emits (raw little-endian bytes as hex), so policies written for
 * Trustee read ours; TCB status, advisories and FMSPC are added.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import type { DcapQuote } from './quote.ts'
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

function headerClaims(quote: DcapQuote): Record<string, string> {
  const raw = quote.header.raw
  return {
    version: hex(raw.subarray(0, 2)),
    att_key_type: hex(raw.subarray(2, 4)),
    tee_type: hex(raw.subarray(4, 8)),
    reserved: hex(raw.subarray(8, 12)),
    vendor_id: hex(raw.subarray(12, 28)),
    user_data: hex(raw.subarray(28, 48)),
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
  const body = quote.body
  const raw = quote.rawBody
  if (body.kind === 'sgx') {
    return {
      tee: 'sgx',
      init_data: hex(body.configId),
      report_data: hex(body.reportData),
      quote: {
        header: headerClaims(quote),
        body: {
          cpu_svn: hex(body.cpuSvn),
          misc_select: hex(raw.subarray(0x10, 0x14)),
          attributes: hex(raw.subarray(0x30, 0x40)),
          mr_enclave: hex(body.mrEnclave),
          mr_signer: hex(body.mrSigner),
          config_id: hex(body.configId),
          isv_prod_id: body.isvProdId,
          isv_svn: body.isvSvn,
          config_svn: body.configSvn,
          isv_family_id: hex(body.isvFamilyId),
          isv_ext_prod_id: hex(body.isvExtProdId),
          report_data: hex(body.reportData),
        },
      },
      attributes: {
        debug: body.attributes.debug,
        mode64bit: body.attributes.mode64Bit,
        kss: body.attributes.kss,
        provision_key: body.attributes.provisionKey,
      },
    }
  }
  return {
    tee: 'tdx',
    init_data: hex(body.mrConfigId),
    report_data: hex(body.reportData),
    quote: {
      header: headerClaims(quote),
      body: {
        tcb_svn: hex(body.teeTcbSvn),
        mr_seam: hex(body.mrSeam),
        mrsigner_seam: hex(body.mrSignerSeam),
        seam_attributes: hex(raw.subarray(0x70, 0x78)),
        td_attributes: hex(raw.subarray(0x78, 0x80)),
        xfam: hex(raw.subarray(0x80, 0x88)),
        mr_td: hex(body.mrTd),
        mr_config_id: hex(body.mrConfigId),
        mr_owner: hex(body.mrOwner),
        mr_owner_config: hex(body.mrOwnerConfig),
        rtmr_0: hex(body.rtmrs[0]),
        rtmr_1: hex(body.rtmrs[1]),
        rtmr_2: hex(body.rtmrs[2]),
        rtmr_3: hex(body.rtmrs[3]),
        report_data: hex(body.reportData),
        ...(body.kind === 'td15'
          ? { tee_tcb_svn2: hex(body.teeTcbSvn2), mr_servicetd: hex(body.mrServiceTd) }
          : {}),
      },
    },
    td_attributes: {
      debug: body.tdAttributes.debug,
      key_locker: body.tdAttributes.keyLocker,
      perfmon: body.tdAttributes.perfmon,
      protection_keys: body.tdAttributes.pks,
      septve_disable: body.tdAttributes.septVeDisable,
    },
  }
}

/** The claims of a quote whose chain, signatures and collateral verified. */
export function quoteClaims(
  quote: DcapQuote,
  tcb: TcbEvaluation,
  pck: VerifiedPckChain,
): QuoteClaims {
  return {
    ...quoteBodyClaims(quote),
    tcb_status: tcb.status,
    advisory_ids: [...tcb.advisoryIds],
    tcb_date: tcb.tcbDate?.toISOString() ?? null,
    tcb_evaluation_data_number: tcb.tcbEvaluationDataNumber,
    fmspc: hex(pck.info.sgx.fmspc),
    pce_id: hex(pck.info.sgx.pceId),
    pck_ca: pck.caKind,
    ...(pck.info.sgx.platformInstanceId === undefined
      ? {}
      : { platform_instance_id: hex(pck.info.sgx.platformInstanceId) }),
  }
}

/**
 * The claims of a verified quote. The `quote.header` / `quote.body` part uses the names and
 * encodings Trustee's TDX verifier emits (raw little-endian bytes as hex), so policies written for
 * Trustee read ours; TCB status, advisories and FMSPC are added.
 *
 * @module
 */
import { bytesToHex } from '@initguard/core'
import type { DcapQuote } from './quote.ts'
import type { SgxAttributes, TdAttributes } from './attributes.ts'
import type { TcbEvaluation } from './tcb-status.ts'
import type { VerifiedPckChain } from './pck-chain.ts'
import {
  layoutClaims,
  SGX_REPORT_LAYOUT,
  TD_REPORT_BODY_15_LAYOUT,
  TD_REPORT_BODY_LAYOUT,
} from './report-layouts.ts'

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

// The attribute flags Trustee's verifier emits, by its claim names.
const SGX_ATTRIBUTE_CLAIMS = {
  debug: 'debug',
  mode64bit: 'mode64Bit',
  kss: 'kss',
  provision_key: 'provisionKey',
} as const satisfies Record<string, keyof SgxAttributes>
const TD_ATTRIBUTE_CLAIMS = {
  debug: 'debug',
  key_locker: 'keyLocker',
  perfmon: 'perfmon',
  protection_keys: 'pks',
  septve_disable: 'septVeDisable',
} as const satisfies Record<string, keyof TdAttributes>

function flagClaims<A extends object>(
  attributes: A,
  claims: Readonly<Record<string, keyof A>>,
): Record<string, boolean> {
  return Object.fromEntries(
    Object.entries(claims).map(([claim, flag]) => [claim, attributes[flag] === true]),
  )
}

/**
 * The body claims followed by `more` (one object built once: spreading costs more than this). The
 * body's fields are those of its layout table, under Trustee's names; the hex of the whole body is
 * computed once and sliced, which is what makes claims cheap enough for every quote.
 */
function bodyClaims<T extends object>(
  quote: DcapQuote,
  more: T,
): T & { readonly tee: 'tdx' | 'sgx'; readonly init_data: string; readonly report_data: string } {
  const body = quote.body
  const raw = quote.rawBody
  const text = hex(raw)
  const fields =
    body.kind === 'sgx'
      ? layoutClaims(SGX_REPORT_LAYOUT, raw, text)
      : {
          ...layoutClaims(TD_REPORT_BODY_LAYOUT, raw, text),
          ...(body.kind === 'td15' ? layoutClaims(TD_REPORT_BODY_15_LAYOUT, raw, text) : {}),
        }
  const sgx = body.kind === 'sgx'
  return Object.assign(
    {
      tee: sgx ? ('sgx' as const) : ('tdx' as const),
      init_data: String(fields[sgx ? 'config_id' : 'mr_config_id']),
      report_data: String(fields['report_data']),
      quote: { header: headerClaims(quote), body: fields },
      [sgx ? 'attributes' : 'td_attributes']:
        body.kind === 'sgx'
          ? flagClaims(body.attributes, SGX_ATTRIBUTE_CLAIMS)
          : flagClaims(body.tdAttributes, TD_ATTRIBUTE_CLAIMS),
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

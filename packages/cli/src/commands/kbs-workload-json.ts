/**
 * The workload definition `initguard kbs admin workload put` sends, built from its options. The
 * init-data documents go in as their exact text (the KBS computes each TEE's fitted digest
 * itself); the server validates the whole definition (`parseWorkloadDefinition`).
 *
 * ```json
 * {"name": "web", "tees": ["snp", "tdx"],
 *  "initdata": [{"toml": "<exact document text>"}],
 *  "resources": ["default/web/*"],
 *  "reference-values": {"snp": {"measurements": ["<hex>"], "min-tcb": {...}},
 *                       "tdx": {"mrtd": ["<hex>"], "rtmr": {"0": ["<hex>"]}}},
 *  "allow-debug": false, "cel": "<expression>"}
 * ```
 *
 * @module
 */
import { MalformedInputError } from '@initguard/core'

/** What the options say. */
export interface WorkloadOptions {
  readonly name: string
  readonly tees: readonly string[]
  /** Each document's bytes, as read. */
  readonly initdata: readonly { readonly file: string; readonly bytes: Uint8Array }[]
  readonly resources: readonly string[]
  readonly snpMeasurements: readonly Uint8Array[]
  readonly snpMinTcb?: Readonly<Record<string, number>>
  readonly tdxMrtd: readonly Uint8Array[]
  readonly tdxRtmr: readonly { readonly index: number; readonly value: Uint8Array }[]
  readonly allowDebug: boolean
  readonly cel?: string
}

const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')

/**
 * The definition JSON.
 *
 * @throws {@link MalformedInputError} `ERR_KBS_INITDATA_NOT_UTF8` for a document that is not
 *   UTF-8 text (a TOML document always is; JSON cannot carry other bytes exactly).
 */
export function workloadDefinitionJson(options: WorkloadOptions): Record<string, unknown> {
  const initdata = options.initdata.map(({ file, bytes }) => {
    try {
      return { toml: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes) }
    } catch (cause) {
      throw new MalformedInputError(
        'ERR_KBS_INITDATA_NOT_UTF8',
        `--initdata ${file} is not UTF-8 text`,
        {
          cause,
          hint: 'give the initdata TOML document itself (`initguard initdata decode` turns an annotation back into it)',
        },
      )
    }
  })
  const snp = {
    ...(options.snpMeasurements.length === 0
      ? {}
      : { measurements: options.snpMeasurements.map(hex) }),
    ...(options.snpMinTcb === undefined ? {} : { 'min-tcb': options.snpMinTcb }),
  }
  const rtmr: Record<string, string[]> = {}
  for (const { index, value } of options.tdxRtmr) (rtmr[String(index)] ??= []).push(hex(value))
  const tdx = {
    ...(options.tdxMrtd.length === 0 ? {} : { mrtd: options.tdxMrtd.map(hex) }),
    ...(options.tdxRtmr.length === 0 ? {} : { rtmr }),
  }
  const referenceValues = {
    ...(Object.keys(snp).length === 0 ? {} : { snp }),
    ...(Object.keys(tdx).length === 0 ? {} : { tdx }),
  }
  return {
    name: options.name,
    tees: options.tees,
    initdata,
    resources: options.resources,
    ...(Object.keys(referenceValues).length === 0 ? {} : { 'reference-values': referenceValues }),
    'allow-debug': options.allowDebug,
    ...(options.cel === undefined ? {} : { cel: options.cel }),
  }
}

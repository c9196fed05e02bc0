/**
 * The declarative workload definition: which TEEs a workload runs on, what it must measure as,
 * which init-data documents the operator accepts, and which secrets it may receive.
 *
 * ```jsonc
 * {
 *   "name": "web",                                    // ^[a-z0-9][a-z0-9._-]{0,62}$
 *   "tees": ["snp", "tdx"],                           // non-empty subset of snp, tdx, sgx
 *   "initdata": ["version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n…"],  // exact TOML texts
 *   "resources": ["default/web/*", "prod/tls-*\/cert"],  // repository/type/tag, * inside a segment
 *   "snp": { "measurements": ["<96 hex>"], "minimumTcb": {"bootloader": 4, "tee": 0, "snp": 24, "microcode": 219},
 *            "minimumLaunchTcb": {"bootloader": 4, "tee": 0, "snp": 24, "microcode": 219},  // optional, like minimumTcb
 *            "minimumFirmware": {"major": 1, "minor": 55, "build": 29},  // optional; running firmware, major then minor then build
 *            "refuseProvisionalFirmware": false, "allowDebug": false, "allowMigration": false, "vmpl": 0 },
 *   "tdx": { "mrtd": ["<96 hex>"], "rtmr1": ["<96 hex>"], "rtmr2": ["<96 hex>"],  // rtmr1 and rtmr2, or "anyKernel": true
 *            "acceptedTcbStatuses": ["UpToDate"], "allowDebug": false,
 *            "mrServiceTd": "<96 hex>" },  // optional: MRSERVICETD exactly; absent, all zero (no service TD bound)
 *   "sgx": { "mrenclave": ["<64 hex>"], "acceptedTcbStatuses": ["UpToDate"], "allowDebug": false },
 *   "cel": "init_data_claims[\"cdh.toml\"].kbc.url.startsWith(\"https://\")",  // optional
 *   "refuseSimulated": true                           // optional: real hardware only
 * }
 * ```
 *
 * Rules: every TEE in `tees` has its reference-value block and no other block is allowed; a TDX
 * block pins the kernel (`rtmr1` and `rtmr2`) or says `"anyKernel": true`, never both; every
 * list is non-empty and without repeats; hex has the field's exact length; each init-data text is
 * a valid CoCo initdata document (the KBS computes each TEE's fitted value itself); the CEL
 * expression compiles. Defaults are written out in the result (`allowDebug: false`, …), so the
 * parsed form is itself a valid definition that parses to itself; `refuseSimulated` is written
 * out only when true (a definition without it, as every one before it, parses as before).
 *
 * `refuseSimulated: true` means real hardware only: evidence from the TEE simulator does not
 * match the workload, even on a KBS started with `--trust-sim` (which otherwise accepts both).
 * A KBS without `--trust-sim` refuses simulated evidence anyway, before any workload is matched.
 * The simulator makes SEV-SNP and TDX evidence only ({@link SIMULATED_TEES}), so `refuseSimulated:
 * true` on a workload that runs only on SGX is refused (`ERR_KBS_WORKLOAD_RULE_INAPPLICABLE`): it
 * could never take effect. `false`, the default, is no rule and is never refused.
 *
 * @module
 */
import { MalformedInputError, bytesToHex, isInitguardError, stringToUtf8 } from '@initguard/core'
import { parseInitdata, type InitdataDocument } from '@initguard/initdata'
import { isWorkloadName, type KbsTee } from '@initguard/kbs-protocol'
import type { ParseResult } from '@marcbachmann/cel-js'
import type { SimulatedGuestTee } from '@initguard/tee-simulator'
import { compileClaimsExpression } from './claims-expression.ts'
import {
  booleanAt,
  inapplicable,
  invalid,
  memberOf,
  objectAt,
  oneOfAt,
  required,
  requiredList,
  stringAt,
} from './definition-reader.ts'
import {
  parseSgxReferenceValues,
  parseSnpReferenceValues,
  parseTdxReferenceValues,
  type SgxReferenceValues,
  type SnpReferenceValues,
  type TdxReferenceValues,
} from './reference-values.ts'
import { parseResourcePattern } from './resource-pattern.ts'

/** The TEEs a workload may name. */
export const WORKLOAD_TEES: readonly KbsTee[] = ['snp', 'tdx', 'sgx']

export { isWorkloadName }

/**
 * The TEEs the TEE simulator makes evidence for (its guests are SEV-SNP and TDX, and its DCAP
 * collateral is TDX's, so an SGX quote chaining to its root is refused at verification).
 * `refuseSimulated` takes effect only through one of these.
 */
export const SIMULATED_TEES: readonly KbsTee[] = [
  'snp',
  'tdx',
] satisfies readonly SimulatedGuestTee[]

/** The most init-data documents one workload accepts. */
export const MAX_INITDATA_DOCUMENTS = 64
/** The largest init-data document, in bytes (UTF-8). */
export const MAX_INITDATA_SIZE: number = 1024 * 1024

/** A validated workload definition (see the module documentation for the JSON). */
export interface WorkloadDefinition {
  readonly name: string
  readonly tees: readonly KbsTee[]
  /** The accepted init-data documents, each the operator's exact TOML text. */
  readonly initdata: readonly string[]
  /** Resource path patterns this workload may receive. */
  readonly resources: readonly string[]
  readonly snp?: SnpReferenceValues
  readonly tdx?: TdxReferenceValues
  readonly sgx?: SgxReferenceValues
  /** A CEL expression over the claims that must be `true`. */
  readonly cel?: string
  /** Real hardware only: simulated evidence does not match (present only when true). */
  readonly refuseSimulated?: true
}

const TOP_LEVEL = [
  'name',
  'tees',
  'initdata',
  'resources',
  'snp',
  'tdx',
  'sgx',
  'cel',
  'refuseSimulated',
] as const

/** Parse one accepted init-data text, refusing it with its path when it is not a valid document. */
export function parseAcceptedInitdata(value: unknown, path: string): InitdataDocument {
  const text = stringAt(
    value,
    path,
    'give the initdata document as a string holding its exact TOML text',
  )
  const bytes = stringToUtf8(text)
  if (bytes.length > MAX_INITDATA_SIZE) {
    throw invalid(
      path,
      `is ${bytes.length} bytes (at most ${MAX_INITDATA_SIZE})`,
      'give a smaller document',
    )
  }
  try {
    return parseInitdata(bytes)
  } catch (error) {
    if (!isInitguardError(error)) throw error
    throw new MalformedInputError(
      'ERR_KBS_WORKLOAD_INVALID',
      `workload definition: ${path} is not a valid initdata document: ${error.message}`,
      {
        cause: error,
        details: { path, initdata_error: error.code },
        hint: `${error.hint ?? 'fix the document'}; \`initguard initdata verify\` checks a document locally`,
      },
    )
  }
}

function referenceValues(
  obj: Readonly<Record<string, unknown>>,
  tees: readonly KbsTee[],
): Pick<WorkloadDefinition, KbsTee> {
  const out: { snp?: SnpReferenceValues; tdx?: TdxReferenceValues; sgx?: SgxReferenceValues } = {}
  for (const tee of WORKLOAD_TEES) {
    const block = memberOf(obj, tee)
    const listed = tees.includes(tee)
    if (block === undefined) {
      if (listed) {
        throw invalid(
          `$.${tee}`,
          `is missing, but "tees" lists ${tee}`,
          `add the ${tee} reference values (${tee === 'snp' ? 'measurements' : tee === 'tdx' ? 'mrtd, rtmr1 and rtmr2' : 'mrenclave or mrsigner'} at least), or remove ${tee} from "tees"`,
        )
      }
      continue
    }
    if (!listed) {
      throw invalid(
        `$.${tee}`,
        `is given, but "tees" does not list ${tee}`,
        `add "${tee}" to "tees", or remove the ${tee} block`,
      )
    }
    if (tee === 'snp') out.snp = parseSnpReferenceValues(block, '$.snp')
    else if (tee === 'tdx') out.tdx = parseTdxReferenceValues(block, '$.tdx')
    else out.sgx = parseSgxReferenceValues(block, '$.sgx')
  }
  return out
}

/**
 * Validate a workload definition strictly ({@link checkWorkloadDefinition}, without the compiled
 * expression).
 *
 * @returns the definition with its defaults written out and hex in lower case.
 * @throws {@link MalformedInputError} `ERR_KBS_WORKLOAD_INVALID` naming the JSON path (`$.…`) and
 *   how to fix it: unknown keys, wrong types, empty or repeated list entries, bad hex lengths,
 *   unknown TEEs or TCB statuses, a TEE without its reference values (or values for a TEE not
 *   listed), an invalid init-data document, a bad resource pattern, a CEL syntax or type error.
 * @throws {@link MalformedInputError} `ERR_KBS_WORKLOAD_RULE_INAPPLICABLE` for a well-formed rule
 *   that could never take effect on the workload's TEEs (`refuseSimulated: true` on SGX only; a
 *   CEL expression naming the claims of, or comparing `tee` with, a TEE the workload does not run on).
 */
export function parseWorkloadDefinition(json: unknown): WorkloadDefinition {
  return checkWorkloadDefinition(json).definition
}

/** A validated definition and what validating it compiled. */
export interface CheckedWorkloadDefinition {
  readonly definition: WorkloadDefinition
  /**
   * The definition's CEL expression as compiled to check it, when it has one: the compiled form
   * a workload matches with, so it is compiled once (the check is that compilation).
   */
  readonly expression?: ParseResult
  /**
   * The accepted init-data documents as parsed to check them, index for index with
   * `definition.initdata`: what a workload binds to each TEE, so each is parsed once.
   */
  readonly documents: readonly InitdataDocument[]
}

/**
 * Validate a workload definition strictly, keeping what validating it parsed and compiled (the
 * init-data documents, the CEL expression) for matching.
 *
 * @throws as {@link parseWorkloadDefinition}.
 */
export function checkWorkloadDefinition(json: unknown): CheckedWorkloadDefinition {
  const obj = objectAt(json, '$', TOP_LEVEL)
  const nameHint =
    'lower-case letters, digits, . _ - ; starting with a letter or digit; at most 63 characters'
  const name = stringAt(
    required(obj, 'name', '$', `give the workload a name: ${nameHint}`),
    '$.name',
    nameHint,
  )
  if (!isWorkloadName(name)) {
    throw invalid('$.name', `${JSON.stringify(name.slice(0, 70))} is not a valid name`, nameHint)
  }
  const teeHint = `list the TEEs the workload runs on: ${WORKLOAD_TEES.join(', ')}`
  const tees = requiredList(obj, 'tees', {
    hint: teeHint,
    item: (v, p) => oneOfAt<KbsTee>(v, p, WORKLOAD_TEES, 'TEE'),
    distinct: true,
  })
  const initdataHint =
    'list the accepted initdata documents, each as its exact TOML text (the KBS computes the digests)'
  const documents = requiredList(obj, 'initdata', {
    hint: initdataHint,
    item: (v, p) => ({ text: v as string, document: parseAcceptedInitdata(v, p) }),
  })
  if (documents.length > MAX_INITDATA_DOCUMENTS) {
    throw invalid(
      '$.initdata',
      `has ${documents.length} documents (at most ${MAX_INITDATA_DOCUMENTS})`,
      'split the workload',
    )
  }
  const seen = new Map<string, number>()
  documents.forEach(({ document }, i) => {
    const key = `${document.algorithm}:${bytesToHex(document.digest)}`
    const first = seen.get(key)
    if (first !== undefined) {
      throw invalid(
        `$.initdata[${i}]`,
        `is the same document as $.initdata[${first}]`,
        'give each document once',
      )
    }
    seen.set(key, i)
  })
  const resourceHint =
    'list the resource paths (repository/type/tag, * inside a segment) the workload may receive'
  const resources = requiredList(obj, 'resources', {
    hint: resourceHint,
    item: parseResourcePattern,
    distinct: true,
  })
  const cel = memberOf(obj, 'cel')
  const expression = cel === undefined ? undefined : compileClaimsExpression(cel, '$.cel', tees)
  const refuseSimulated = booleanAt(memberOf(obj, 'refuseSimulated'), '$.refuseSimulated', false)
  if (refuseSimulated && !tees.some((tee) => SIMULATED_TEES.includes(tee))) {
    // An explicit rule that can never refuse anything reads as a guarantee and checks nothing.
    throw inapplicable(
      '$.refuseSimulated',
      `is true, but the workload runs only on ${tees.join(', ')}, for which the TEE simulator makes no evidence (it simulates ${SIMULATED_TEES.join(' and ')}): the rule could never take effect`,
      `remove refuseSimulated (simulated ${tees.join(', ')} evidence is refused at verification anyway), or add a TEE the simulator makes evidence for to "tees"`,
      { tees },
    )
  }
  const definition: WorkloadDefinition = {
    name,
    tees,
    initdata: documents.map((d) => d.text),
    resources,
    ...referenceValues(obj, tees),
    ...(cel === undefined ? {} : { cel: cel as string }),
    ...(refuseSimulated ? { refuseSimulated } : {}),
  }
  return {
    definition,
    documents: documents.map((d) => d.document),
    ...(expression === undefined ? {} : { expression }),
  }
}

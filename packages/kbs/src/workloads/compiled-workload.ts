/**
 * A stored workload compiled for appraisal: the definition re-validated (the database is not
 * trusted to hold only valid definitions), each accepted document's fitted value per TEE computed
 * by the KBS, resource patterns and the CEL expression compiled (once: the compilation that checks
 * the definition is the form matched with, and the documents bound are those the check parsed, so
 * each is parsed once). Compiled forms are cached in a
 * bounded LRU keyed by name, version and a SHA-256 of the definition, so a cached form can never
 * stand for another definition.
 *
 * @module
 */
import { createHash } from 'node:crypto'
import { LruCache, MalformedInputError, bytesToHex, constantTimeEqual } from '@initguard/core'
import { bindingFor, type InitdataAlgorithm, type InitdataDocument } from '@initguard/initdata'
import type { KbsTee } from '@initguard/kbs-protocol'
import type { ParseResult } from '@marcbachmann/cel-js'
import type { StoredWorkload } from '../ports.ts'
import { compileResourcePattern, type ResourcePattern } from './resource-pattern.ts'
import { checkWorkloadDefinition, type WorkloadDefinition } from './workload-definition.ts'

/** One accepted init-data document, with the value each of the workload's TEEs must hold. */
export interface AcceptedInitdata {
  /** Its index in the definition's `initdata`. */
  readonly index: number
  readonly algorithm: InitdataAlgorithm
  /** The full digest, hex. */
  readonly digest: string
  /** HOST_DATA / MRCONFIGID / CONFIGID (hex) for each TEE the workload lists. */
  readonly fitted: Readonly<Partial<Record<KbsTee, string>>>
  /** E.g. that a sha384 digest is truncated to SNP's 32 bytes. */
  readonly warnings: readonly string[]
}

/** A workload ready for matching. */
export interface CompiledWorkload {
  readonly name: string
  readonly version: number
  readonly definition: WorkloadDefinition
  readonly initdata: readonly AcceptedInitdata[]
  readonly resources: readonly ResourcePattern[]
  /** The compiled CEL expression, when the definition has one. */
  readonly expression?: ParseResult
  /** The accepted document whose fitted value for `tee` equals `field` (constant time), if any. */
  acceptedInitdataFor(tee: KbsTee, field: Uint8Array): AcceptedInitdata | undefined
  /** Whether `path` matches one of the resource patterns. */
  mayRelease(path: string): boolean
}

/**
 * Each accepted document's binding for each of the workload's TEEs, from the documents the
 * definition check parsed (`documents`, index for index with `definition.initdata`), so a
 * compilation parses each document once.
 */
function accepted(
  definition: WorkloadDefinition,
  documents: readonly InitdataDocument[],
): {
  readonly list: AcceptedInitdata[]
  readonly bytes: Map<KbsTee, Uint8Array[]>
} {
  const bytes = new Map<KbsTee, Uint8Array[]>(definition.tees.map((t) => [t, []]))
  const list = documents.map((document, index) => {
    const fitted: Partial<Record<KbsTee, string>> = {}
    const warnings: string[] = []
    for (const tee of definition.tees) {
      const binding = bindingFor(tee, document.algorithm, document.digest)
      fitted[tee] = bytesToHex(binding.value)
      bytes.get(tee)?.push(binding.value)
      warnings.push(...binding.warnings)
    }
    return {
      index,
      algorithm: document.algorithm,
      digest: bytesToHex(document.digest),
      fitted,
      warnings: [...new Set(warnings)],
    }
  })
  return { list, bytes }
}

/** Compile a stored workload (no cache). */
function compile(stored: StoredWorkload): CompiledWorkload {
  // The check compiles the CEL expression; that compiled form is the one matched with.
  // So does it parse the init-data documents, which are bound from that parse.
  const { definition, expression, documents } = checkWorkloadDefinition(stored.definition)
  if (definition.name !== stored.name) {
    throw new MalformedInputError(
      'ERR_KBS_WORKLOAD_INVALID',
      `workload definition: $.name is "${definition.name}", but it is stored as "${stored.name}"`,
      { details: { path: '$.name' }, hint: 'put the definition again under its own name' },
    )
  }
  const { list, bytes } = accepted(definition, documents)
  const resources = definition.resources.map(compileResourcePattern)
  return {
    name: stored.name,
    version: stored.version,
    definition,
    initdata: list,
    resources,
    ...(expression === undefined ? {} : { expression }),
    acceptedInitdataFor(tee, field) {
      const values = bytes.get(tee) ?? []
      // Compare against every value (no early exit), so timing does not tell which one matched.
      let found: AcceptedInitdata | undefined
      values.forEach((value, i) => {
        if (constantTimeEqual(value, field) && found === undefined) found = list[i]
      })
      return found
    },
    mayRelease: (path) => resources.some((r) => r.matches(path)),
  }
}

/** JSON text, or `undefined` for a value that is not JSON at all (it then fails validation). */
function jsonText(value: unknown): string | undefined {
  return JSON.stringify(value)
}

/** Compiles stored workloads, keeping the compiled forms in a bounded cache. */
export class WorkloadCompiler {
  readonly #cache: LruCache<string, CompiledWorkload>

  /** @param limit - the most compiled workloads kept. */
  constructor(limit = 256) {
    this.#cache = new LruCache(limit)
  }

  /**
   * The compiled form of `stored`, from the cache when the same name, version and definition
   * were compiled before.
   *
   * @throws `ERR_KBS_WORKLOAD_INVALID` when the stored definition is not valid (any more).
   */
  compile(stored: StoredWorkload): CompiledWorkload {
    const digest = createHash('sha256')
      .update(jsonText(stored.definition) ?? '')
      .digest('hex')
    const key = `${stored.name}\u0000${String(stored.version)}\u0000${digest}`
    return this.#cache.getOrSet(key, () => compile(stored))
  }
}

const shared = new WorkloadCompiler()

/**
 * Compile a stored workload, cached process-wide (bounded, by name, version and definition digest).
 *
 * @throws `ERR_KBS_WORKLOAD_INVALID` when the stored definition is not valid.
 */
export function compileWorkload(stored: StoredWorkload): CompiledWorkload {
  return shared.compile(stored)
}

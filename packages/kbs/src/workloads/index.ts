/**
 * Workloads: the declarative definition an operator puts (TEEs, reference values, accepted
 * init-data documents, resource patterns, an optional CEL rule), its strict validation, and the
 * compiled form the appraiser matches evidence against.
 *
 * @module
 */
export {
  WORKLOAD_TEES,
  isWorkloadName,
  MAX_INITDATA_DOCUMENTS,
  MAX_INITDATA_SIZE,
  parseWorkloadDefinition,
} from './workload-definition.ts'
export type { WorkloadDefinition } from './workload-definition.ts'
export { ACCEPTABLE_TCB_STATUSES } from './reference-values.ts'
export type {
  AcceptableTcbStatus,
  SnpTcbMinimum,
  SnpReferenceValues,
  TdxReferenceValues,
  SgxReferenceValues,
} from './reference-values.ts'
export { WORKLOAD_INVALID } from './definition-reader.ts'
export { isResourcePath, compileResourcePattern } from './resource-pattern.ts'
export type { ResourcePattern } from './resource-pattern.ts'
export { MAX_CEL_LENGTH, claimsExpressionFailure } from './claims-expression.ts'
export { WorkloadCompiler, compileWorkload } from './compiled-workload.ts'
export type { AcceptedInitdata, CompiledWorkload } from './compiled-workload.ts'

/**
 * @initguard/initdata: the CoCo initdata document and its delivery, pure.
 *
 * Parse and validate documents, compute digests over the exact bytes, fit them to each TEE's
 * init-time field (or vTPM PCR 8), render documents deterministically, and encode them for Kata
 * (pod annotation, block device, QEMU properties). Adding the annotation to Kubernetes manifests is
 * a separate entry point, `@initguard/initdata/kubernetes`, so verifiers never load the YAML code.
 *
 * @module
 */
export {
  INITDATA_ALGORITHMS,
  DIGEST_LENGTHS,
  isInitdataAlgorithm,
  hashBytes,
} from './algorithms.ts'
export type { InitdataAlgorithm } from './algorithms.ts'
export { INITDATA_VERSION, WELL_KNOWN_DATA_KEYS, parseInitdata } from './document.ts'
export type { InitdataDocument } from './document.ts'
export {
  TEE_KINDS,
  TEE_FIELDS,
  isTeeKind,
  fitDigest,
  expectedPcr8,
  bindingFor,
  bestAlgorithmFor,
} from './tee-binding.ts'
export type { TeeKind, TeeField, TeeBinding } from './tee-binding.ts'
export { checkBinding, initdataBindingFailure } from './binding-check.ts'
export { explainBinding } from './explain.ts'
export type { ExplainFinding, ExplainReport } from './explain.ts'
export { renderInitdata } from './render.ts'
export type { InitdataParts } from './render.ts'
export { DEFAULT_MAX_DOCUMENT_SIZE, gzip, gunzip } from './gzip.ts'
export type { GunzipOptions } from './gzip.ts'
export {
  KATA_INITDATA_ANNOTATION,
  encodeAnnotation,
  decodeAnnotation,
  qemuPropertyFor,
} from './kata.ts'
export type { DecodeAnnotationOptions, QemuProperty } from './kata.ts'
export { INITDATA_IMAGE_MAGIC, buildInitdataImage, readInitdataImage } from './block-image.ts'
export type { ReadImageOptions } from './block-image.ts'
export { isTomlTable, parseConfigToml } from './toml-table.ts'
export type { ConfigTomlError, TomlTable } from './toml-table.ts'

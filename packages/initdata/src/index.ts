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
  type InitdataAlgorithm,
} from './algorithms.ts'
export {
  INITDATA_VERSION,
  WELL_KNOWN_DATA_KEYS,
  parseInitdata,
  type InitdataDocument,
} from './document.ts'
export {
  TEE_KINDS,
  TEE_FIELDS,
  isTeeKind,
  fitDigest,
  expectedPcr8,
  bindingFor,
  bestAlgorithmFor,
  type TeeKind,
  type TeeField,
  type TeeBinding,
} from './tee-binding.ts'
export { checkBinding, initdataBindingFailure } from './binding-check.ts'
export { explainBinding, type ExplainFinding, type ExplainReport } from './explain.ts'
export { renderInitdata, type InitdataParts } from './render.ts'
export { INITDATA_DOCUMENT_FILE, isSafeDataKey, unsafeDataKeyReason } from './data-keys.ts'
export { DEFAULT_MAX_DOCUMENT_SIZE, gzip, gunzip, type GunzipOptions } from './gzip.ts'
export {
  KATA_INITDATA_ANNOTATION,
  encodeAnnotation,
  decodeAnnotation,
  qemuPropertyFor,
  type DecodeAnnotationOptions,
  type QemuProperty,
} from './kata.ts'
export {
  INITDATA_IMAGE_MAGIC,
  buildInitdataImage,
  readInitdataImage,
  type ReadImageOptions,
} from './block-image.ts'
export { isTomlTable, parseConfigToml, type ConfigTomlError, type TomlTable } from './toml-table.ts'

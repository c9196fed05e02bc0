/**
 * @initguard/agent: the guest agent. The init-data check, the KBS client configured only from the
 * verified documents, and the guest API.
 *
 * @module
 */
export type { InitdataSourceKind, VerifiedInitdata, UnboundInitdata } from './verified-initdata.ts'
// init-data check (agent-check)
export { INITDATA_SOURCE_KINDS, readInitdataSource } from './initdata-check/initdata-source.ts'
export type { InitdataInput, ReadInitdataSourceOptions } from './initdata-check/initdata-source.ts'
export { findInitdataDevice } from './initdata-check/initdata-device.ts'
export type { FindInitdataDeviceOptions } from './initdata-check/initdata-device.ts'
export { ALLOW_UNBOUND_FLAG, checkInitdata } from './initdata-check/check-initdata.ts'
export type { CheckInitdataOptions } from './initdata-check/check-initdata.ts'
export {
  INITDATA_DOCUMENT_FILE,
  VerifiedDocuments,
  assertSafeDataKeys,
  isSafeDataKey,
} from './initdata-check/verified-documents.ts'
export {
  UNBOUND_DOCUMENTS_DIR,
  UNBOUND_MARKER_FILE,
  writeRuntimeFiles,
} from './initdata-check/runtime-files.ts'
export type { RuntimeFiles } from './initdata-check/runtime-files.ts'
export { establishInitdata } from './initdata-check/establish-initdata.ts'
export type {
  EstablishInitdataOptions,
  EstablishedInitdata,
} from './initdata-check/establish-initdata.ts'

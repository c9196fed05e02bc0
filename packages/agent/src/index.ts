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

// KBS and guest API (agent-api)
export { kbsConfigFromInitdata } from './kbs-config.ts'
export type { KbsConfig, KbsEndpoint } from './kbs-config.ts'
export type { KbsConfigFile } from './kbs-config-toml.ts'
export { AgentKbsSession } from './kbs-session.ts'
export type { AgentKbsSessionOptions, AgentKbsToken } from './kbs-session.ts'
export { openAgentKbs } from './kbs-access.ts'
export type { AgentKbsAccess, OpenedAgentKbs } from './kbs-access.ts'
export { REPORT_DATA_SIZE, checkedReport } from './agent-report.ts'
export { guestApiStatus, guestApiErrorBody } from './guest-api-errors.ts'
export { registerGuestApi } from './guest-api-routes.ts'
export { UNBOUND_HEADER, SIMULATED_HEADER } from './guest-api-marks.ts'
export { GuestApiRefusal } from './guest-api-refusal.ts'
export type { GuestApiState } from './guest-api-routes.ts'
export {
  DEFAULT_GUEST_API_ADDRESS,
  isLoopbackAddress,
  isLoopbackHost,
  parseGuestApiAddress,
} from './guest-api-listen.ts'
export type { GuestApiAddress } from './guest-api-listen.ts'
export { nonLoopbackAddresses, serveGuestApi } from './guest-api-server.ts'
export type { GuestApiServeOptions, RunningGuestApi } from './guest-api-server.ts'
export { GUEST_API_LIMITS } from './guest-api-limits.ts'
export type { GuestApiLimits } from './guest-api-limits.ts'
export { kbsResourceResolver, loadGuestImagePolicy } from './agent-image-policy.ts'
export type { GuestImagePolicy, KbsResourceResolver } from './agent-image-policy.ts'
export {
  DEFAULT_LAYER_DOWNLOADS,
  IMPLEMENTED_IMAGE_KEYS,
  MAX_LAYER_DOWNLOADS,
  guestRegistryAccess,
  refuseUnimplementedImageKeys,
} from './agent-image-registry.ts'
export type { GuestRegistryAccess } from './agent-image-registry.ts'

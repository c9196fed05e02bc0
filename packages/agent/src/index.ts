/**
 * @initguard/agent: the guest agent. The init-data check, the KBS client configured only from the
 * verified documents, and the guest API.
 *
 * @module
 */
export type { InitdataSourceKind, VerifiedInitdata, UnboundInitdata } from './verified-initdata.ts'
// init-data check (agent-check)
export {
  INITDATA_SOURCE_KINDS,
  readInitdataSource,
  type InitdataInput,
  type ReadInitdataSourceOptions,
} from './initdata-check/initdata-source.ts'
export {
  findInitdataDevice,
  type FindInitdataDeviceOptions,
} from './initdata-check/initdata-device.ts'
export {
  ALLOW_UNBOUND_FLAG,
  checkInitdata,
  type CheckInitdataOptions,
} from './initdata-check/check-initdata.ts'
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
  type RuntimeFiles,
} from './initdata-check/runtime-files.ts'
export { bindInitdataVtpm, type VtpmBoundInitdata } from './initdata-check/bind-initdata-vtpm.ts'
export { checkCopyTarget, writeCheckedCopy } from './initdata-check/checked-copy.ts'
export {
  establishInitdata,
  type EstablishInitdataOptions,
  type EstablishedInitdata,
} from './initdata-check/establish-initdata.ts'

// KBS and guest API (agent-api)
export { kbsConfigFromInitdata, type KbsConfig, type KbsEndpoint } from './kbs-config.ts'
export type { KbsConfigFile } from './kbs-config-toml.ts'
export {
  AGENT_KBS_TOTAL_TIMEOUT_MS,
  AgentKbsSession,
  type AgentKbsSessionOptions,
  type AgentKbsToken,
} from './kbs-session.ts'
export { openAgentKbs, type AgentKbsAccess, type OpenedAgentKbs } from './kbs-access.ts'
export { REPORT_DATA_SIZE, checkedReport } from './agent-report.ts'
export { guestApiStatus, guestApiErrorBody } from './guest-api-errors.ts'
export { registerGuestApi, type GuestApiState } from './guest-api-routes.ts'
export { UNBOUND_HEADER, SIMULATED_HEADER } from './guest-api-marks.ts'
export { GuestApiRefusal } from './guest-api-refusal.ts'
export {
  DEFAULT_GUEST_API_ADDRESS,
  isLoopbackAddress,
  isLoopbackHost,
  parseGuestApiAddress,
  type GuestApiAddress,
} from './guest-api-listen.ts'
export {
  NO_TCP_LISTENER,
  checkGuestApiListeners,
  nonLoopbackAddresses,
  serveGuestApi,
  type GuestApiServeOptions,
  type RunningGuestApi,
  type SocketOnlyGuestApi,
} from './guest-api-server.ts'
export { GUEST_API_LIMITS, type GuestApiLimits } from './guest-api-limits.ts'
export {
  kbsResourceResolver,
  loadGuestImagePolicy,
  type GuestImagePolicy,
  type KbsResourceResolver,
} from './agent-image-policy.ts'
export {
  DEFAULT_LAYER_DOWNLOADS,
  IMPLEMENTED_IMAGE_KEYS,
  MAX_LAYER_DOWNLOADS,
  guestRegistryAccess,
  refuseUnimplementedImageKeys,
  type GuestRegistryAccess,
} from './agent-image-registry.ts'

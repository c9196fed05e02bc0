/**
 * The KBS HTTP server: `buildKbsApp` (Fastify 5, against the ports), `listenKbs`, the strict
 * configuration, the TLS identity and admin JWT verification.
 *
 * @module
 */
export { buildKbsApp, kbsAppRoutes } from './app.ts'
export type { KbsAppOptions } from './app.ts'
export type { KbsProtocolFunctions } from './route-context.ts'
export { listenKbs } from './listen.ts'
export type { KbsListening } from './listen.ts'
export { KBS_CONFIG_DEFAULTS, resolveKbsServerConfig } from './config.ts'
export { loadKbsServerConfig } from './config-file.ts'
export type { KbsServerConfig, KbsServeFlags, KbsTlsSetting, KbsLogLevel } from './config.ts'
export { parseDuration, parseSize, parseListen } from './config-values.ts'
export type { ListenAddress } from './config-values.ts'
export {
  GENERATED_TLS_FILES,
  ensureGeneratedTlsIdentity,
  generateSelfSignedTls,
  loadTlsIdentity,
  spkiPin,
} from './tls-identity.ts'
export type { TlsIdentity } from './tls-identity.ts'
export {
  ADMIN_AUDIENCE,
  ADMIN_ROLE,
  ADMIN_CLOCK_LEEWAY_SECONDS,
  parseAdminPublicKey,
  requireAdminKeys,
  verifyAdminAuthorization,
} from './admin-auth.ts'
export type { AdminPublicKey, AdminIdentity, AdminJwtAlgorithm } from './admin-auth.ts'
export { INTERNAL_ERROR_DETAIL, problemBody, problemForError } from './errors.ts'
export type { KbsErrorVariant, KbsErrorStatus, KbsProblem, MappedError } from './errors.ts'
export { KBS_OPENAPI } from './openapi.ts'

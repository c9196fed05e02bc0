/**
 * The KBS wired together: services from the configuration, and a running server.
 *
 * @module
 */
export { KBS_MASTER_KEY_ENV, KBS_TOKEN_ISSUER, createKbsServices } from './kbs-services.ts'
export type { KbsServices, KbsServicesOptions } from './kbs-services.ts'
export { startKbs } from './start-kbs.ts'
export type { RunningKbs, StartKbsOptions } from './start-kbs.ts'

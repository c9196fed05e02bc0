/**
 * @initguard/http: Outbound HTTP: the network-failure classification every client uses (a DNS failure or a refused connection fails at once, never retried).
 *
 * @module
 */
export { hopelessNetworkFailure } from './network-failure.ts'
export type { HopelessNetworkFailure } from './network-failure.ts'

/**
 * @initguard/agent: the guest agent. The init-data check, the KBS client configured only from the
 * verified documents, and the guest API.
 *
 * @module
 */
export type { InitdataSourceKind, VerifiedInitdata, UnboundInitdata } from './verified-initdata.ts'

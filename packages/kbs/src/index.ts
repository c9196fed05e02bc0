/**
 * @initguard/kbs: the key broker service. Trustee-compatible RCAR endpoints (protocol 0.4.0),
 * workloads whose accepted init-data documents are a first-class rule, EAR tokens with persistent
 * rotating keys, secrets encrypted at rest, an append-only audit log and an admin API.
 *
 * - `service/`: the parts wired from a configuration (`createKbsServices`, `startKbs`);
 * - `server/`: the HTTP layer (Fastify) written against `ports.ts`;
 * - `storage/`: SQLite through kysely; `tokens/`: EAR JWTs;
 * - `workloads/` and `appraisal/`: definitions, evidence verification and matching.
 *
 * @module
 */
export type {
  ResourcePath,
  ResourceSummary,
  ResourceStore,
  StoredWorkload,
  WorkloadStore,
  AuditEntryInput,
  AuditEntry,
  AuditLog,
  SessionRecord,
  SessionStore,
  SigningKeyRecord,
  SigningKeyStore,
  KbsStore,
  AttestationToAppraise,
  AppraisalAccepted,
  AppraisalRefused,
  AppraisalOutcome,
  Appraiser,
  VerifiedToken,
  TokenService,
} from './ports.ts'
export * from './service/index.ts'
export * from './server/index.ts'
export * from './storage/index.ts'
export * from './tokens/index.ts'
export * from './workloads/index.ts'
export * from './appraisal/index.ts'

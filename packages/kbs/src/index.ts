/**
 * @initguard/kbs: the key broker service.
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

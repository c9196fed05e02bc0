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
  UnusableWorkload,
  UnauthenticatedWorkload,
  WorkloadStore,
  AuditEntryInput,
  AuditEntry,
  AuditLog,
  AuditPruned,
  AuditPruneRequest,
  AuditPruneResult,
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
export { MIN_REPLICA_LIFETIME_MS, REPLICA_CLOCK_SKEW_MS } from './replica-clocks.ts'

// service/
export {
  KBS_MASTER_KEY_ENV,
  KBS_TOKEN_ISSUER,
  createKbsServices,
  type KbsServices,
  type KbsServicesOptions,
} from './service/kbs-services.ts'
export {
  KBS_CLOSE_GRACE_MS,
  startKbs,
  type RunningKbs,
  type StartKbsOptions,
} from './service/start-kbs.ts'

// server/
export { buildKbsApp, kbsAppRoutes, type KbsAppOptions } from './server/app.ts'
export type { KbsProtocolFunctions } from './server/route-context.ts'
export { listenKbs, type KbsListening } from './server/listen.ts'
export {
  KBS_CONFIG_DEFAULTS,
  resolveKbsServerConfig,
  type KbsServerConfig,
  type KbsServeFlags,
  type KbsTlsSetting,
  type KbsLogLevel,
} from './server/config.ts'
export {
  KBS_DATABASE_ENV,
  parseDatabaseSetting,
  resolveDatabaseSetting,
} from './server/config-database.ts'
export { loadKbsServerConfig } from './server/config-file.ts'
export {
  parseDuration,
  parseSize,
  parseListen,
  type ListenAddress,
} from './server/config-values.ts'
export {
  GENERATED_TLS_FILES,
  ensureGeneratedTlsIdentity,
  generateSelfSignedTls,
  loadTlsIdentity,
  spkiPin,
  type TlsIdentity,
} from './server/tls-identity.ts'
export {
  ADMIN_AUDIENCE,
  ADMIN_ROLE,
  ADMIN_CLOCK_LEEWAY_SECONDS,
  parseAdminPublicKey,
  requireAdminKeys,
  verifyAdminAuthorization,
  type AdminPublicKey,
  type AdminIdentity,
  type AdminJwtAlgorithm,
} from './server/admin-auth.ts'
export {
  INTERNAL_ERROR_DETAIL,
  problemBody,
  problemForError,
  type KbsErrorVariant,
  type KbsErrorStatus,
  type KbsProblem,
  type MappedError,
} from './server/errors.ts'
export { KBS_OPENAPI } from './server/openapi.ts'

// storage/
export { openKbsStore, type OpenKbsStoreOptions, type SqlKbsStore } from './storage/open-store.ts'
export {
  loadMasterKey,
  ensureDataDir,
  MASTER_KEY_LENGTH,
  MASTER_KEY_FILE_NAME,
  type MasterKey,
  type MasterKeyOptions,
} from './storage/master-key.ts'
export {
  Envelope,
  masterKeyFingerprint,
  type EnvelopeKind,
  type EnvelopeRow,
} from './storage/envelope.ts'
export {
  SQLITE_FILE_NAME,
  type KbsDatabaseConfig,
  type KbsDatabaseKind,
} from './storage/dialect.ts'
export {
  POSTGRES_MIGRATION_LOCK_WAIT_MS,
  checkPostgresUrl,
  connectPostgres,
  type PostgresConnectOptions,
  type PostgresPoolOptions,
} from './storage/dialect-postgres.ts'
export type { AppliedMigrations } from './storage/migrate.ts'
export { SqlResourceStore, checkResourcePath } from './storage/resource-store.ts'
export { SqlWorkloadStore, type WorkloadVersion } from './storage/workload-store.ts'
export { SqlAuditLog, AUDIT_LIST_MAX } from './storage/audit-log.ts'
export { AUDIT_PRUNE_MAX, AUDIT_PRUNE_CONFLICTS } from './storage/audit-prune.ts'
export { SqlSessionStore } from './storage/session-store.ts'
export { SqlSigningKeyStore } from './storage/signing-key-store.ts'

// tokens/
export {
  createTokenService,
  DEFAULT_VERIFIER_ID,
  type TokenServiceOptions,
  type KbsTokenService,
} from './tokens/token-service.ts'
export type { PublicSigningJwk } from './tokens/signing-keys.ts'
export {
  EAR_PROFILE,
  SIMULATED_BUILD_NOTE,
  acceptedTrustVector,
  appraisalPolicyId,
  earClaims,
  earStatusOf,
  type EarClaimsInput,
  type EarStatus,
  type TrustworthinessVector,
  type VerifierId,
} from './tokens/ear-claims.ts'
export { readVerifiedClaims } from './tokens/verified-claims.ts'

// workloads/
export {
  WORKLOAD_TEES,
  isWorkloadName,
  MAX_INITDATA_DOCUMENTS,
  MAX_INITDATA_SIZE,
  parseWorkloadDefinition,
  type WorkloadDefinition,
} from './workloads/workload-definition.ts'
export {
  ACCEPTABLE_TCB_STATUSES,
  type AcceptableTcbStatus,
  type SnpTcbMinimum,
  type SnpReferenceValues,
  type TdxReferenceValues,
  type SgxReferenceValues,
} from './workloads/reference-values.ts'
export { WORKLOAD_INVALID } from './workloads/definition-reader.ts'
export {
  isResourcePath,
  compileResourcePattern,
  type ResourcePattern,
} from './workloads/resource-pattern.ts'
export { MAX_CEL_LENGTH, claimsExpressionFailure } from './workloads/claims-expression.ts'
export {
  WorkloadCompiler,
  compileWorkload,
  type AcceptedInitdata,
  type CompiledWorkload,
} from './workloads/compiled-workload.ts'

// appraisal/
export {
  createEvidenceVerifier,
  type EvidenceVerifierOptions,
} from './appraisal/evidence-verifier.ts'
export type {
  SnpTrust,
  DcapTrust,
  EvidenceTrust,
  VerifiedEvidence,
  VerifiedSnpEvidence,
  VerifiedTdxEvidence,
  VerifiedSgxEvidence,
  EvidenceVerifier,
} from './appraisal/verified-evidence.ts'
export { trusteeSnpClaims } from './appraisal/snp-evidence.ts'
export { trusteeDcapClaims } from './appraisal/dcap-evidence.ts'
export {
  DcapCollateralSource,
  fetchDcapCollateral,
  type SelectedCollateral,
} from './appraisal/dcap-collateral-source.ts'
export {
  checkInitData,
  type InitDataOutcome,
  type InitDataRefusal,
} from './appraisal/init-data-binding.ts'
export { workloadMismatch } from './appraisal/workload-match.ts'
export { createAppraiser, type AppraiserOptions } from './appraisal/appraiser.ts'

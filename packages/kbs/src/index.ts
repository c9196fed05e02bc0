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

// service/
export { KBS_MASTER_KEY_ENV, KBS_TOKEN_ISSUER, createKbsServices } from './service/kbs-services.ts'
export type { KbsServices, KbsServicesOptions } from './service/kbs-services.ts'
export { KBS_CLOSE_GRACE_MS, startKbs } from './service/start-kbs.ts'
export type { RunningKbs, StartKbsOptions } from './service/start-kbs.ts'

// server/
export { buildKbsApp, kbsAppRoutes } from './server/app.ts'
export type { KbsAppOptions } from './server/app.ts'
export type { KbsProtocolFunctions } from './server/route-context.ts'
export { listenKbs } from './server/listen.ts'
export type { KbsListening } from './server/listen.ts'
export { KBS_CONFIG_DEFAULTS, resolveKbsServerConfig } from './server/config.ts'
export {
  KBS_DATABASE_ENV,
  parseDatabaseSetting,
  resolveDatabaseSetting,
} from './server/config-database.ts'
export { loadKbsServerConfig } from './server/config-file.ts'
export type { KbsServerConfig, KbsServeFlags, KbsTlsSetting, KbsLogLevel } from './server/config.ts'
export { parseDuration, parseSize, parseListen } from './server/config-values.ts'
export type { ListenAddress } from './server/config-values.ts'
export {
  GENERATED_TLS_FILES,
  ensureGeneratedTlsIdentity,
  generateSelfSignedTls,
  loadTlsIdentity,
  spkiPin,
} from './server/tls-identity.ts'
export type { TlsIdentity } from './server/tls-identity.ts'
export {
  ADMIN_AUDIENCE,
  ADMIN_ROLE,
  ADMIN_CLOCK_LEEWAY_SECONDS,
  parseAdminPublicKey,
  requireAdminKeys,
  verifyAdminAuthorization,
} from './server/admin-auth.ts'
export type { AdminPublicKey, AdminIdentity, AdminJwtAlgorithm } from './server/admin-auth.ts'
export { INTERNAL_ERROR_DETAIL, problemBody, problemForError } from './server/errors.ts'
export type { KbsErrorVariant, KbsErrorStatus, KbsProblem, MappedError } from './server/errors.ts'
export { KBS_OPENAPI } from './server/openapi.ts'

// storage/
export { openKbsStore } from './storage/open-store.ts'
export type { OpenKbsStoreOptions, SqlKbsStore } from './storage/open-store.ts'
export {
  loadMasterKey,
  ensureDataDir,
  MASTER_KEY_LENGTH,
  MASTER_KEY_FILE_NAME,
} from './storage/master-key.ts'
export type { MasterKey, MasterKeyOptions } from './storage/master-key.ts'
export { Envelope, masterKeyFingerprint } from './storage/envelope.ts'
export type { EnvelopeKind, EnvelopeRow } from './storage/envelope.ts'
export { SQLITE_FILE_NAME } from './storage/dialect.ts'
export type { KbsDatabaseConfig, KbsDatabaseKind } from './storage/dialect.ts'
export { checkPostgresUrl, connectPostgres } from './storage/dialect-postgres.ts'
export type { PostgresConnectOptions, PostgresPoolOptions } from './storage/dialect-postgres.ts'
export type { AppliedMigrations } from './storage/migrate.ts'
export { SqlResourceStore, checkResourcePath } from './storage/resource-store.ts'
export { SqlWorkloadStore } from './storage/workload-store.ts'
export type { WorkloadVersion } from './storage/workload-store.ts'
export { SqlAuditLog, AUDIT_LIST_MAX } from './storage/audit-log.ts'
export { SqlSessionStore } from './storage/session-store.ts'
export { SqlSigningKeyStore } from './storage/signing-key-store.ts'

// tokens/
export { createTokenService, DEFAULT_VERIFIER_ID } from './tokens/token-service.ts'
export type { TokenServiceOptions, KbsTokenService } from './tokens/token-service.ts'
export type { PublicSigningJwk } from './tokens/signing-keys.ts'
export {
  EAR_PROFILE,
  SIMULATED_BUILD_NOTE,
  acceptedTrustVector,
  appraisalPolicyId,
  earClaims,
  earStatusOf,
} from './tokens/ear-claims.ts'
export type {
  EarClaimsInput,
  EarStatus,
  TrustworthinessVector,
  VerifierId,
} from './tokens/ear-claims.ts'
export { readVerifiedClaims } from './tokens/verified-claims.ts'

// workloads/
export {
  WORKLOAD_TEES,
  isWorkloadName,
  MAX_INITDATA_DOCUMENTS,
  MAX_INITDATA_SIZE,
  parseWorkloadDefinition,
} from './workloads/workload-definition.ts'
export type { WorkloadDefinition } from './workloads/workload-definition.ts'
export { ACCEPTABLE_TCB_STATUSES } from './workloads/reference-values.ts'
export type {
  AcceptableTcbStatus,
  SnpTcbMinimum,
  SnpReferenceValues,
  TdxReferenceValues,
  SgxReferenceValues,
} from './workloads/reference-values.ts'
export { WORKLOAD_INVALID } from './workloads/definition-reader.ts'
export { isResourcePath, compileResourcePattern } from './workloads/resource-pattern.ts'
export type { ResourcePattern } from './workloads/resource-pattern.ts'
export { MAX_CEL_LENGTH, claimsExpressionFailure } from './workloads/claims-expression.ts'
export { WorkloadCompiler, compileWorkload } from './workloads/compiled-workload.ts'
export type { AcceptedInitdata, CompiledWorkload } from './workloads/compiled-workload.ts'

// appraisal/
export { createEvidenceVerifier } from './appraisal/evidence-verifier.ts'
export type { EvidenceVerifierOptions } from './appraisal/evidence-verifier.ts'
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
export { DcapCollateralSource, fetchDcapCollateral } from './appraisal/dcap-collateral-source.ts'
export type { SelectedCollateral } from './appraisal/dcap-collateral-source.ts'
export { checkInitData } from './appraisal/init-data-binding.ts'
export type { InitDataOutcome, InitDataRefusal } from './appraisal/init-data-binding.ts'
export { workloadMismatch } from './appraisal/workload-match.ts'
export { createAppraiser } from './appraisal/appraiser.ts'
export type { AppraiserOptions } from './appraisal/appraiser.ts'

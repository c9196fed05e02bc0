/**
 * The seams inside the KBS: what the HTTP layer asks of storage, of evidence appraisal and of the
 * token service. Each is implemented once (SQLite/PostgreSQL through kysely; the SNP/DCAP
 * verifiers; EAR JWTs through `jose`) and the server is written against these types only, so a
 * second SQL dialect or another verifier slots in without touching the routes.
 *
 * Times come in as arguments (`now`), so every rule is testable at a chosen instant.
 *
 * @module
 */
import type { KbsInitData, KbsTee, TeePublicJwk } from '@initguard/kbs-protocol'

// ---------------------------------------------------------------------------------------------
// Resource paths

/** `<repository>/<type>/<tag>`, each segment `^[A-Za-z0-9_-][A-Za-z0-9_.-]*$` (Trustee's rule). */
export type ResourcePath = string

// ---------------------------------------------------------------------------------------------
// Storage

/** A secret as the admin API lists it: never its bytes. */
export interface ResourceSummary {
  readonly path: ResourcePath
  readonly size: number
  /** ISO 8601. */
  readonly updatedAt: string
}

/** A resource read for release, and the audit entry that records the release. */
export interface ReleasedResource {
  /** The id of the audit entry that records the release. */
  readonly auditId: number
  /** Opens the stored envelope; throws when it does not open (the release then failed). */
  plaintext(): Uint8Array
}

/** Secrets, encrypted at rest (AES-256-GCM envelope under the master key). */
export interface ResourceStore {
  /**
   * Store `value` at `path`. With `changed`, that audit entry is appended in the same atomic
   * write: the value is not stored when the entry cannot be appended.
   */
  put(path: ResourcePath, value: Uint8Array, now: Date, changed?: AuditEntryInput): Promise<void>
  /** The plaintext, or `undefined` when there is no such resource. */
  get(path: ResourcePath): Promise<Uint8Array | undefined>
  /**
   * The plaintext for a release, with `released` appended to the audit log in the same atomic
   * write (the entry exists before any byte leaves); `undefined`, and nothing appended, when there
   * is no such resource.
   */
  release(path: ResourcePath, released: AuditEntryInput): Promise<ReleasedResource | undefined>
  list(): Promise<readonly ResourceSummary[]>
  /**
   * `false` when there was nothing to delete. With `changed`, that audit entry is appended in the
   * same atomic write, and only when a resource was deleted.
   */
  delete(path: ResourcePath, changed?: AuditEntryInput): Promise<boolean>
}

/** A stored workload: the validated definition (JSON) and its version (1, 2, … per name). */
export interface StoredWorkload {
  readonly name: string
  readonly version: number
  /** The definition as the admin sent it, after validation (see `WorkloadDefinition`). */
  readonly definition: unknown
  /** ISO 8601. */
  readonly updatedAt: string
}

/**
 * A live workload whose newest stored version cannot be used: its row does not authenticate
 * (`ERR_KBS_WORKLOAD_INTEGRITY`: changed behind the KBS, or written before the rows carried a MAC).
 * It has no definition to use; it is listed so that it alone is out of use, and the operator
 * sees which one and why.
 */
export interface UnusableWorkload {
  readonly name: string
  readonly version: number
  readonly unusable: { readonly code: string; readonly message: string; readonly hint?: string }
}

/**
 * What the operator is shown of a live workload whose newest row does not authenticate: why
 * (`unusable`), and the definition's text exactly as the row holds it, UNAUTHENTICATED.
 *
 * Showing it is safe because of what it is and where it goes: a definition is the operator's own
 * data and not secret (whoever reads the database reads it too), it goes only to an authenticated
 * admin, as a string (never parsed into a `definition`, so nothing that reads a workload's
 * `definition` can take it for one), and it is never matched nor released on: the appraiser reads
 * workloads through {@link WorkloadStore.list}, which never carries it. What is NOT safe is to put
 * it again unread: whoever wrote the row behind the KBS chose these bytes, and a put makes them
 * authenticated. So it is for review against the operator's own copy.
 */
export interface UnauthenticatedWorkload extends UnusableWorkload {
  /** The stored definition text, as the row holds it; no check has passed on it. */
  readonly unauthenticatedDefinition: string
}

/** Workloads, versioned: every `put` makes a new version; `get` returns the newest. */
export interface WorkloadStore {
  /**
   * Store `definition` as the next version of `name`. With `changed`, the audit entry it makes
   * for that version is appended in the same atomic write: no version is added when the entry
   * cannot be appended.
   */
  put(
    name: string,
    definition: unknown,
    now: Date,
    changed?: (version: number) => AuditEntryInput,
  ): Promise<StoredWorkload>
  /**
   * The newest version, `undefined` when none is live.
   *
   * @throws `ERR_KBS_WORKLOAD_INTEGRITY` when its row does not authenticate.
   */
  get(name: string): Promise<StoredWorkload | undefined>
  /**
   * The newest version for the operator (the admin GET): as {@link WorkloadStore.get}, except that
   * a row that does not authenticate is answered as an {@link UnauthenticatedWorkload} (why, and
   * its stored text for review) instead of thrown. Never for a decision.
   */
  inspect(name: string): Promise<StoredWorkload | UnauthenticatedWorkload | undefined>
  /**
   * The newest version of every live workload. One whose row does not authenticate is listed as
   * an {@link UnusableWorkload}, never with its definition, and never fails the others' listing.
   */
  list(): Promise<readonly (StoredWorkload | UnusableWorkload)[]>
  /**
   * `false` when there was no such workload. With `changed`, that audit entry is appended in the
   * same atomic write (with the tombstone and the deletion marks), and only when a workload was
   * deleted.
   */
  delete(name: string, now: Date, changed?: AuditEntryInput): Promise<boolean>
}

/**
 * What an audit entry records. `outcome` is `released` or `denied` (plus admin actions). `auth`
 * entries are refused `/kbs/v0/auth` requests only: a challenge handed out writes nothing.
 */
export interface AuditEntryInput {
  readonly at: Date
  readonly action: 'auth' | 'attest' | 'resource' | 'admin'
  readonly outcome: 'released' | 'issued' | 'denied' | 'changed'
  readonly workload?: string
  readonly resource?: ResourcePath
  readonly tee?: KbsTee
  /** A stable error code or policy reason; never a secret. */
  readonly reason?: string
  /** Hex SHA-256 of the primary evidence JSON, when there was evidence. */
  readonly evidenceDigest?: string
  /** Set when the evidence came from the TEE simulator. */
  readonly simulated?: boolean
  readonly detail?: string
  /**
   * The RCAR session the entry belongs to (32 hex digits): the challenge's id at `/attest`, the
   * token's `jti` at `/resource`. Absent for admin entries and requests with no verified session.
   */
  readonly session?: string
}

/** An audit entry as stored: append-only, ids increase. */
export interface AuditEntry extends Omit<AuditEntryInput, 'at'> {
  readonly id: number
  /** ISO 8601. */
  readonly at: string
}

/** What a prune removes, for the entry that records it. */
export interface AuditPruned {
  /** The prune mark after it: every entry with an id up to this one is gone. */
  readonly throughId: number
  /** How many entries it removed. */
  readonly count: number
  /** The oldest and newest `at` among them (ISO 8601). */
  readonly firstAt: string
  readonly lastAt: string
}

/** What {@link AuditLog.prune} is asked. */
export interface AuditPruneRequest {
  /** Remove every entry with `id <= throughId` (a safe integer ≥ 1, below the newest entry's). */
  readonly throughId: number
  /** The pruning replica's clock when it asked. */
  readonly now: Date
  /**
   * Every entry removed must be older than this (`now` minus the minimum retention), and than
   * the database's clock minus as much: the earlier bound wins, so a pruner's clock ahead does
   * not make young entries old.
   */
  readonly olderThan: Date
  /**
   * How many entries with `id <= throughId` the caller archived: when given, any other number
   * there now refuses the prune (an entry the archive lacks would be lost).
   */
  readonly expectedCount?: number
  /** The entry that records the prune, appended in the same transaction. */
  readonly recorded: (pruned: AuditPruned) => AuditEntryInput
}

/** What {@link AuditLog.prune} did: `count` 0 (nothing to remove) appends no entry. */
export interface AuditPruneResult extends Omit<AuditPruned, 'firstAt' | 'lastAt'> {
  readonly firstAt?: string
  readonly lastAt?: string
  /** The id of the entry that records the prune. */
  readonly entryId?: number
}

/**
 * The audit log: append-only above its prune mark; `prune` is the one way to remove entries, and
 * records itself.
 */
export interface AuditLog {
  append(entry: AuditEntryInput): Promise<AuditEntry>
  /**
   * At most `limit` entries after entry `afterId` (0 or absent: from the start) in commit order:
   * paging with the last id returned never misses or repeats an entry. On PostgreSQL ids do not
   * always increase along it (`storage/audit-log.ts`). An `afterId` that names no entry is refused.
   */
  list(query: { readonly afterId?: number; readonly limit: number }): Promise<readonly AuditEntry[]>
  /**
   * In one transaction: check the range, raise the prune mark to `throughId`, remove the entries
   * up to it, append `recorded`. Idempotent: with no entry left up to `throughId`, nothing changes
   * and `count` is 0.
   */
  prune(request: AuditPruneRequest): Promise<AuditPruneResult>
}

/**
 * An RCAR challenge as `/auth` hands it out. Nothing is stored: the `kbs-session-id` cookie
 * carries it, authenticated under the master key (`storage/rcar-challenge.ts`), so any replica
 * sharing that key can check it; the nonce is derived from the cookie's body.
 */
export interface RcarChallenge {
  /** 32 lowercase hex characters (16 random bytes): the session id, once one is stored. */
  readonly id: string
  readonly tee: KbsTee
  /** The challenge nonce, base64 (44 characters). */
  readonly nonce: string
  readonly expiresAt: Date
}

/** A new challenge and the cookie value that carries it. */
export interface IssuedChallenge extends RcarChallenge {
  /** The `kbs-session-id` value: opaque lowercase hex. */
  readonly cookie: string
}

/**
 * An RCAR session as stored: written once, by the `/attest` that used its challenge. Its
 * `expiresAt` is the challenge's (a cookie-carried session ends when its challenge would have, as
 * Trustee's; a Bearer token lives to its own `exp`).
 */
export interface SessionRecord extends RcarChallenge {
  /**
   * `attested` (a token was issued) or `consumed` (the challenge was burnt by a refusal).
   * `authed` is no longer written: `/auth` stores nothing since challenges are stateless; rows
   * in it can only come from an earlier version of the KBS, and no state but `attested` is
   * worth anything to `/resource`.
   */
  readonly state: 'authed' | 'consumed' | 'attested'
  /** Set once attested. */
  readonly token?: string
}

/**
 * RCAR sessions, shared by every replica that uses the same database and master key. A challenge
 * is single use: the one write at the end of `/attest` ({@link SessionStore.recordAttested} or
 * {@link SessionStore.recordRefused}) inserts the session row, and only one insert of an id can
 * succeed, whichever replica runs it.
 */
export interface SessionStore {
  /** A new challenge for `tee`, valid until `expiresAt`. Writes nothing. */
  issueChallenge(tee: KbsTee, expiresAt: Date): IssuedChallenge
  /**
   * The challenge a `kbs-session-id` value carries, or `undefined` when it is not one this KBS
   * (this master key) made, in any byte. Reads nothing; expiry is the caller's to check.
   */
  openChallenge(cookie: string): RcarChallenge | undefined
  /**
   * Uses `challenge`: stores the session `attested` with `token`, and appends `issued` to the audit
   * log, as one atomic write (one round trip on PostgreSQL). `false`, and nothing written, when the
   * challenge was already used (a replay, or a concurrent `/attest` on any replica won), or has
   * been expired longer than the retention grace by the database's clock (its row may be swept).
   */
  recordAttested(challenge: RcarChallenge, token: string, issued: AuditEntryInput): Promise<boolean>
  /**
   * Burns `challenge` after a refusal: stores the session `consumed` and appends `denied`, as one
   * atomic write. `false`, and nothing written, when the challenge was already used or is past
   * the retention grace (as for {@link SessionStore.recordAttested}).
   */
  recordRefused(challenge: RcarChallenge, denied: AuditEntryInput): Promise<boolean>
  get(id: string): Promise<SessionRecord | undefined>
  /**
   * Removes sessions whose `expiresAt` is more than the retention grace (see
   * `SESSION_RETENTION_GRACE_MS`) before the DATABASE's clock; returns how many. No `now`
   * argument on purpose: a replica's clock running ahead must not sweep a row that another
   * replica's would still accept; the record methods refuse by the same clock what this may have
   * removed.
   */
  deleteExpired(): Promise<number>
}

/** A token-signing key (ES256, P-256) as stored: the private JWK wrapped under the master key. */
export interface SigningKeyRecord {
  readonly kid: string
  /** The private key as a JWK (`kty: EC`, `crv: P-256`, `d` present); unwrapped by the store. */
  readonly privateJwk: Readonly<Record<string, unknown>>
  readonly createdAt: Date
  /** When it stopped signing; it stays published until `retiredAt` + the token lifetime. */
  readonly retiredAt?: Date
}

/** Token-signing keys. */
export interface SigningKeyStore {
  /** Every key not yet purged, newest first. */
  list(): Promise<readonly SigningKeyRecord[]>
  add(key: Omit<SigningKeyRecord, 'retiredAt'>): Promise<void>
  /**
   * Add `key` and retire every other active key at its `createdAt`, as one atomic write; with
   * `changed`, that audit entry is appended in the same write (no key is added nor retired when it
   * cannot be).
   */
  rotate(key: Omit<SigningKeyRecord, 'retiredAt'>, changed?: AuditEntryInput): Promise<void>
  /**
   * Add `key` and delete every other key stored (revoked: no grace, none of its tokens verify
   * any more), as one atomic write with the audit entry `changed` makes from the kids deleted;
   * returns those kids.
   */
  rotateRevoking(
    key: Omit<SigningKeyRecord, 'retiredAt'>,
    changed?: (revoked: readonly string[]) => AuditEntryInput,
  ): Promise<readonly string[]>
  retire(kid: string, at: Date): Promise<void>
  /** Deletes keys retired before `before`. */
  purge(before: Date): Promise<number>
}

/** Everything the KBS keeps, behind one handle. */
export interface KbsStore {
  readonly resources: ResourceStore
  readonly workloads: WorkloadStore
  readonly audit: AuditLog
  readonly sessions: SessionStore
  readonly signingKeys: SigningKeyStore
  /** Throws when the database is not reachable (for `/readyz`). */
  ping(): Promise<void>
  close(): Promise<void>
}

// ---------------------------------------------------------------------------------------------
// Appraisal

/** One `/attest` to appraise: the parsed message plus the session's challenge. */
export interface AttestationToAppraise {
  readonly tee: KbsTee
  /** The session's challenge nonce (the message's `runtime-data.nonce` must equal it). */
  readonly nonce: string
  readonly teePubkey: TeePublicJwk
  readonly initData?: KbsInitData
  readonly primaryEvidence: unknown
  readonly additionalEvidence: string
  readonly now: Date
}

/** The matched workload and the claims the token carries. */
export interface AppraisalAccepted {
  readonly accepted: true
  readonly tee: KbsTee
  readonly workload: { readonly name: string; readonly version: number }
  /** True when the evidence chains to the TEE simulator's roots (`--trust-sim`). */
  readonly simulated: boolean
  /** Hex SHA-256 of the primary evidence JSON (for the audit log). */
  readonly evidenceDigest: string
  /**
   * The claims for the EAR's `ear.veraison.annotated-evidence`: `<tee>` (verifier claims),
   * `init_data` (hex of the hardware field), `init_data_claims` (the `[data]` map with `aa.toml`
   * and `cdh.toml` parsed into objects, or `null`), `report_data` (hex), `runtime_data_claims`.
   */
  readonly annotatedEvidence: Readonly<Record<string, unknown>>
}

/**
 * A refusal. `status` 401 for evidence that does not verify or is not bound to this challenge
 * and key; 403 when it verifies but no workload accepts it (or init-data is not accepted).
 */
export interface AppraisalRefused {
  readonly accepted: false
  readonly status: 401 | 403
  /** A stable `ERR_…` code. */
  readonly code: string
  /** What a person can act on; never a secret. Goes to the audit log (the operator). */
  readonly detail: string
  /**
   * What the guest is told when it differs from `detail`: a refusal that weighed every workload
   * must not describe the other workloads' rules to whoever attested (another tenant's guest).
   */
  readonly clientDetail?: string
  readonly simulated: boolean
  readonly evidenceDigest?: string
}

export type AppraisalOutcome = AppraisalAccepted | AppraisalRefused

/** Verifies evidence, checks the binding and init-data, and matches a workload. */
export interface Appraiser {
  appraise(attestation: AttestationToAppraise): Promise<AppraisalOutcome>
  /**
   * Whether the workload a token names may receive `path`: `allowed`, `denied` (not among its
   * resources), or `changed` when that version is no longer the workload's newest (changed,
   * deleted or re-created since the token was issued): a token is worth only the rules it was
   * appraised under, so the guest must attest again under the current ones.
   */
  mayRelease(
    workload: { readonly name: string; readonly version: number },
    path: ResourcePath,
  ): Promise<'allowed' | 'denied' | 'changed'>
  /**
   * Called after this process wrote a workload (put or delete): an appraiser that keeps what it
   * read must read again before its next decision.
   */
  workloadsChanged?(): void
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** What a verified attestation token says. */
export interface VerifiedToken {
  readonly workload: string
  readonly workloadVersion: number
  readonly tee: KbsTee
  readonly teePubkey: TeePublicJwk
  readonly simulated: boolean
  readonly expiresAt: Date
  /** The RCAR session that earned the token (its `jti`): the audit entries' link. */
  readonly session: string
}

/** EAR JWTs (ES256) with persistent, rotating keys. */
export interface TokenService {
  /** A token for `session` (an RCAR session's id, 32 hex digits), carried as its `jti`. */
  issue(
    accepted: AppraisalAccepted,
    teePubkey: TeePublicJwk,
    now: Date,
    session: string,
  ): Promise<string>
  /** Throws a coded error (→ 401) for a bad signature, unknown `kid`, expiry, or a wrong shape. */
  verify(token: string, now: Date): Promise<VerifiedToken>
  /** The public keys for `/.well-known/jwks.json`, including retired keys still in use. */
  jwks(now: Date): Promise<{ readonly keys: readonly Readonly<Record<string, unknown>>[] }>
  /**
   * Starts signing with a new key; the old one stays published until its tokens expire, unless
   * `revokePrevious`: then every previous key is deleted at once (its tokens are refused from
   * now on; see {@link SigningKeyStore.rotateRevoking}). With `changed`, the audit entry for the
   * new kid (and the kids revoked) is appended in the same write as the new key.
   */
  rotate(
    now: Date,
    changed?: (kid: string, revoked?: readonly string[]) => AuditEntryInput,
    options?: { readonly revokePrevious: boolean },
  ): Promise<{ readonly kid: string; readonly revoked?: readonly string[] }>
}

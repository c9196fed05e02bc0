/**
 * The token-signing keys as one service instance sees them: the list from the store (refreshed
 * when stale, or when a token names a kid we do not know, so another replica's new key is found),
 * and the imported keys in a bounded cache so signing and verifying never re-import per call.
 *
 * @module
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import { calculateJwkThumbprint } from 'jose'
import type { JWK } from 'jose'
import { InternalError, LruCache } from '@initguard/core'
import { generateEcKeyPair } from '@initguard/kbs-protocol'
import type { AuditEntryInput, SigningKeyRecord, SigningKeyStore } from '../ports.ts'

/** The least time between two store reads caused by unauthenticated requests (unknown kids, JWKS). */
const UNKNOWN_KID_RELOAD_MS = 1000
/** A published public key, as `/.well-known/jwks.json` lists it. */
export interface PublicSigningJwk {
  // Every member is a string; the signature lets it pass as the port's plain JSON object.
  readonly [member: string]: string
  readonly kty: 'EC'
  readonly crv: 'P-256'
  readonly x: string
  readonly y: string
  readonly kid: string
  readonly alg: 'ES256'
  readonly use: 'sig'
}

/** Timing of the key ring, in seconds. */
export interface KeyRingTiming {
  /** How stale the key list may be when signing. */
  readonly refreshSeconds: number
  /** How long a retired key stays published: the token lifetime plus a leeway above `refreshSeconds`. */
  readonly publishedAfterRetirementSeconds: number
}

/** The signing keys of one token service. */
export class SigningKeyRing {
  readonly #store: SigningKeyStore
  readonly #timing: KeyRingTiming
  readonly #imported: LruCache<string, KeyObject>
  readonly #signing: LruCache<string, KeyObject>
  readonly #monotonicMs: () => number
  #records: readonly SigningKeyRecord[] | undefined
  // When the list was read, by the wall clock the callers pass and by the monotonic clock: a list
  // is old when either says so, so a wall clock stepped back does not keep it for the step.
  #loadedAt = 0
  #loadedAtMonotonic = 0
  // When the last store read started (throttles reads for unknown kids), and the next such read
  // while it has not started yet (unknown kids arriving meanwhile share it).
  #listStartedAt = Number.NEGATIVE_INFINITY
  #pendingReload: Promise<void> | undefined
  // The reload of a stale list under way, shared by the verifications that found it stale.
  #staleReload: Promise<void> | undefined
  // Serialises key creation within this instance (first use, rotation).
  #creating: Promise<unknown> = Promise.resolve()
  /**
   * The earliest retirement this instance has read for each kid (see {@link SigningKeyRing.reload}):
   * one entry per key retired while this replica ran, and keys are made only by rotation (an admin
   * act) or when none is active, so it stays small.
   */
  readonly #retired = new Map<string, Date>()
  /**
   * Kids that are gone from the store (revoked, or purged past their window) and so never verify
   * nor sign here again, whatever the store lists later (a deleted row written back). Known from
   * this instance's own revocation, or from a list read that started after one that listed the
   * kid had completed (an earlier read, finishing late, would miss a key made since, not a key
   * deleted). Small for the reason {@link SigningKeyRing.#retired} is.
   */
  readonly #gone = new Set<string>()
  /** For each kid in the store, the number of the last read that listed it; reads counted. */
  readonly #listedIn = new Map<string, number>()
  #readsCompleted = 0

  /** @param monotonicMs a monotonic clock in ms (default `performance.now`). */
  constructor(
    store: SigningKeyStore,
    timing: KeyRingTiming,
    cacheSize: number,
    monotonicMs: () => number = () => performance.now(),
  ) {
    this.#store = store
    this.#timing = timing
    this.#monotonicMs = monotonicMs
    this.#imported = new LruCache(cacheSize)
    this.#signing = new LruCache(cacheSize)
  }

  /**
   * The key to sign with at `now`, creating the first one when the store has none. A `node:crypto`
   * key, for a synchronous ES256 signature: jose's WebCrypto signing cost six times the CPU.
   */
  async signer(now: Date): Promise<{ readonly kid: string; readonly key: KeyObject }> {
    if (this.#isStale(now)) await this.reload(now)
    let active = this.#active()
    if (active === undefined) {
      await this.#serialised(async () => {
        await this.reload(now)
        if (this.#active() === undefined) await this.#create(now)
      })
      active = this.#active()
    }
    if (active === undefined)
      throw new InternalError('ERR_KBS_SIGNING_KEY_NONE', 'no signing key after creating one')
    return { kid: active.kid, key: this.#signingKey(active) }
  }

  /**
   * The public key for `kid` if it is published at `now`. An unknown kid waits for a reload of the
   * list that starts after it arrived, so a token another replica signed with a key it has just
   * created verifies here at once (at most {@link UNKNOWN_KID_RELOAD_MS} later), never 401.
   */
  async verifier(kid: string, now: Date): Promise<KeyObject | undefined> {
    // A list older than `refreshSeconds` is read again first, as for signing: a replica that
    // verifies but has signed nothing since another retired (or purged) a key must not go on
    // taking that key's tokens past its grace, which is what a rotation after a leak relies on.
    if (this.#isStale(now)) await this.#reloadShared(now)
    // Revoked or purged: refused at once, without the read an unknown kid waits for.
    if (this.#gone.has(kid)) return undefined
    let record = this.#find(kid)
    if (record === undefined) {
      await this.#reloadForUnknownKid(now)
      record = this.#find(kid)
    }
    return record !== undefined && this.#published(record, now) ? this.#import(record) : undefined
  }

  /** The published public keys at `now`, after purging keys past their window. */
  async published(now: Date): Promise<readonly PublicSigningJwk[]> {
    // Served to anyone: read the store at most once per second for it.
    if (this.#records === undefined || this.#ageMs(now) >= UNKNOWN_KID_RELOAD_MS)
      await this.reload(now)
    const records = this.#records ?? []
    // Writes only when a key is due, so serving the JWKS does not contend for the write lock.
    if (records.some((record) => !this.#published(record, now))) {
      await this.#store.purge(this.#purgeBefore(now))
    }
    return records.filter((record) => this.#published(record, now)).map(publicJwkOf)
  }

  /**
   * Adds a new key and retires every other active one, in one store write with the audit entry
   * `changed` makes for the new kid (so a rotation is never made without it); returns the new
   * kid.
   */
  async rotate(now: Date, changed?: (kid: string) => AuditEntryInput): Promise<string> {
    return this.#serialised(async () => {
      const { kid, privateJwk } = await newKey()
      await this.#store.rotate({ kid, privateJwk, createdAt: now }, changed?.(kid))
      await this.#store.purge(this.#purgeBefore(now))
      await this.reload(now)
      return kid
    })
  }

  /**
   * Adds a new key and deletes every other one, with no grace (after a leak), in one store write
   * with the audit entry `changed` makes for the new kid and the revoked ones; the revoked keys
   * stop verifying and signing here at once, and on every other instance at its next list read
   * (within `refreshSeconds`). Returns the new kid and the revoked ones.
   */
  async rotateRevoking(
    now: Date,
    changed?: (kid: string, revoked: readonly string[]) => AuditEntryInput,
  ): Promise<{ readonly kid: string; readonly revoked: readonly string[] }> {
    return this.#serialised(async () => {
      const { kid, privateJwk } = await newKey()
      const revoked = await this.#store.rotateRevoking(
        { kid, privateJwk, createdAt: now },
        changed === undefined ? undefined : (kids) => changed(kid, kids),
      )
      for (const gone of revoked) this.#forget(gone)
      await this.reload(now)
      return { kid, revoked }
    })
  }

  #isStale(now: Date): boolean {
    return this.#records === undefined || this.#ageMs(now) > this.#timing.refreshSeconds * 1000
  }

  /** How old the list is: the larger of its wall-clock and monotonic ages. */
  #ageMs(now: Date): number {
    return Math.max(now.getTime() - this.#loadedAt, this.#monotonicMs() - this.#loadedAtMonotonic)
  }

  /** {@link SigningKeyRing.reload}, one store read for every caller that asks while it runs. */
  async #reloadShared(now: Date): Promise<void> {
    this.#staleReload ??= this.reload(now).finally(() => {
      this.#staleReload = undefined
    })
    return this.#staleReload
  }

  /**
   * Reads the key list from the store (its rows authenticated: `retired_at` and `created_at` are
   * under a MAC, so a row set back to unretired is not listed at all). A key this instance has
   * once read as retired stays retired at the earliest time read, whatever the store says later:
   * the MAC cannot tell the row from before the retirement, written back whole (with the MAC it
   * had then), or a purged key's row, from a current one. A replica started after the retirement
   * cannot tell either (see docs/production.md). Likewise a key this instance has seen gone
   * (revoked or purged: {@link SigningKeyRing.#gone}) is never listed again.
   */
  async reload(now: Date): Promise<void> {
    this.#listStartedAt = now.getTime()
    const startedMonotonic = this.#monotonicMs()
    const completedBefore = this.#readsCompleted
    const listed = await this.#store.list()
    this.#readsCompleted += 1
    this.#rememberGone(listed, completedBefore, this.#readsCompleted)
    this.#records = this.#rememberRetirements(listed).filter(
      (record) => !this.#gone.has(record.kid),
    )
    this.#loadedAt = now.getTime()
    this.#loadedAtMonotonic = startedMonotonic
  }

  /**
   * Kids a read that completed at or before `completedBefore` listed, and this read (the
   * `read`th to complete) does not, are gone; the others are marked as listed by it.
   */
  #rememberGone(records: readonly SigningKeyRecord[], completedBefore: number, read: number): void {
    const listed = new Set(records.map((record) => record.kid))
    for (const [kid, lastListed] of this.#listedIn)
      if (!listed.has(kid) && lastListed <= completedBefore) this.#forget(kid)
    for (const kid of listed) if (!this.#gone.has(kid)) this.#listedIn.set(kid, read)
  }

  /** Never use `kid` again. */
  #forget(kid: string): void {
    this.#gone.add(kid)
    this.#listedIn.delete(kid)
    this.#retired.delete(kid)
    this.#imported.delete(kid)
    this.#signing.delete(kid)
  }

  #rememberRetirements(records: readonly SigningKeyRecord[]): readonly SigningKeyRecord[] {
    for (const record of records) {
      const known = this.#retired.get(record.kid)
      if (record.retiredAt !== undefined && (known === undefined || record.retiredAt < known))
        this.#retired.set(record.kid, record.retiredAt)
    }
    return records.map((record) => {
      const retiredAt = this.#retired.get(record.kid)
      return retiredAt === undefined || record.retiredAt?.getTime() === retiredAt.getTime()
        ? record
        : { ...record, retiredAt }
    })
  }

  /**
   * One store read for every unknown kid that arrives before it starts, and at most one per
   * {@link UNKNOWN_KID_RELOAD_MS}: tokens with made-up kids cannot turn into a read (and key
   * unwraps) each, yet a real new key is never missed because the last read came just before it.
   */
  async #reloadForUnknownKid(now: Date): Promise<void> {
    if (this.#pendingReload !== undefined) return this.#pendingReload
    const since = now.getTime() - this.#listStartedAt
    const wait = Math.min(UNKNOWN_KID_RELOAD_MS, Math.max(0, UNKNOWN_KID_RELOAD_MS - since))
    const pending = new Promise<void>((resolve) => setTimeout(resolve, wait)).then(() => {
      // Started: a kid arriving from now on may be newer than this read, so it waits for the next.
      this.#pendingReload = undefined
      return this.reload(new Date(now.getTime() + wait))
    })
    this.#pendingReload = pending
    return pending
  }

  /** Keys retired at or before `now` − window are no longer published: purge before that + 1 ms. */
  #purgeBefore(now: Date): Date {
    return new Date(now.getTime() - this.#timing.publishedAfterRetirementSeconds * 1000 + 1)
  }

  #active(): SigningKeyRecord | undefined {
    return this.#records?.find((record) => record.retiredAt === undefined)
  }

  #find(kid: string): SigningKeyRecord | undefined {
    return this.#records?.find((record) => record.kid === kid)
  }

  #published(record: SigningKeyRecord, now: Date): boolean {
    const retiredAt = record.retiredAt
    return (
      retiredAt === undefined ||
      now.getTime() < retiredAt.getTime() + this.#timing.publishedAfterRetirementSeconds * 1000
    )
  }

  async #create(now: Date): Promise<string> {
    const { kid, privateJwk } = await newKey()
    await this.#store.add({ kid, privateJwk, createdAt: now })
    await this.reload(now)
    return kid
  }

  #signingKey(record: SigningKeyRecord): KeyObject {
    return this.#signing.getOrSet(record.kid, () =>
      createPrivateKey({ key: { ...privateJwkOf(record) }, format: 'jwk' }),
    )
  }

  #import(record: SigningKeyRecord): KeyObject {
    return this.#imported.getOrSet(record.kid, () =>
      createPublicKey({ key: { ...publicPart(record.privateJwk, record.kid) }, format: 'jwk' }),
    )
  }

  async #serialised<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#creating.then(work, work)
    this.#creating = run.catch(() => undefined)
    return run
  }
}

/** A new P-256 key pair: its kid (the JWK thumbprint) and private JWK. */
async function newKey(): Promise<{
  readonly kid: string
  readonly privateJwk: Readonly<Record<string, unknown>>
}> {
  // Not jose's generateKeyPair + exportJWK: a JWK exported from a freshly generated key can
  // deadlock Node 20 (see `generateEcKeyPair`).
  const privateJwk: JWK = { ...generateEcKeyPair('P-256').jwk }
  const kid = await calculateJwkThumbprint(publicPart(privateJwk, 'new key'))
  return { kid, privateJwk: { ...privateJwk } }
}

function privateJwkOf(record: SigningKeyRecord): JWK {
  const publicJwk = publicPart(record.privateJwk, record.kid)
  const d = record.privateJwk['d']
  if (typeof d !== 'string') throw storedKeyError(record.kid)
  return { ...publicJwk, d }
}

function publicPart(jwk: Readonly<Record<string, unknown>>, kid: string): JWK {
  const { kty, crv, x, y } = jwk
  if (kty !== 'EC' || crv !== 'P-256' || typeof x !== 'string' || typeof y !== 'string')
    throw storedKeyError(kid)
  return { kty, crv, x, y }
}

function publicJwkOf(record: SigningKeyRecord): PublicSigningJwk {
  const { x, y } = publicPart(record.privateJwk, record.kid) as { x: string; y: string }
  return { kty: 'EC', crv: 'P-256', x, y, kid: record.kid, alg: 'ES256', use: 'sig' }
}

function storedKeyError(kid: string): InternalError {
  return new InternalError(
    'ERR_KBS_SIGNING_KEY_SHAPE',
    `the stored signing key ${kid} is not a P-256 private JWK`,
    {
      hint: 'rotate the signing key',
    },
  )
}

/**
 * Token-signing keys: the private JWK sealed under the master key, the kid in the AAD.
 *
 * @module
 */
import type { Kysely } from 'kysely'
import { InternalError, UsageError, stringToUtf8, utf8ToString } from '@initguard/core'
import type { SigningKeyRecord, SigningKeyStore } from '../ports.ts'
import type { Envelope } from './envelope.ts'
import type { KbsDatabase } from './schema.ts'

/** {@link SigningKeyStore} over kysely. */
export class SqlSigningKeyStore implements SigningKeyStore {
  readonly #db: Kysely<KbsDatabase>
  readonly #envelope: Envelope

  constructor(db: Kysely<KbsDatabase>, envelope: Envelope) {
    this.#db = db
    this.#envelope = envelope
  }

  async list(): Promise<readonly SigningKeyRecord[]> {
    const rows = await this.#db
      .selectFrom('signing_key')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute()
    return rows.map((row) => {
      const json = utf8ToString(
        // A row that does not open is the operator's problem (500), not the guest's (401).
        this.#envelope.openStored({ kind: 'signing-key', id: row.kid }, row.sealed),
      )
      const privateJwk: unknown = JSON.parse(json)
      if (typeof privateJwk !== 'object' || privateJwk === null || Array.isArray(privateJwk)) {
        throw new InternalError(
          'ERR_KBS_SIGNING_KEY_STORED',
          `the stored signing key ${row.kid} is not a JWK object`,
        )
      }
      return {
        kid: row.kid,
        privateJwk: privateJwk as Readonly<Record<string, unknown>>,
        createdAt: new Date(row.created_at),
        ...(row.retired_at === null ? {} : { retiredAt: new Date(row.retired_at) }),
      }
    })
  }

  async add(key: Omit<SigningKeyRecord, 'retiredAt'>): Promise<void> {
    const sealed = this.#envelope.seal(
      { kind: 'signing-key', id: key.kid },
      stringToUtf8(JSON.stringify(key.privateJwk)),
    )
    await this.#db
      .insertInto('signing_key')
      .values({ kid: key.kid, sealed, created_at: key.createdAt.toISOString(), retired_at: null })
      .execute()
  }

  /**
   * Idempotent for a key already retired (its first retirement time is kept).
   *
   * @throws {@link UsageError} `ERR_KBS_SIGNING_KEY_UNKNOWN` when no such key is stored.
   */
  async retire(kid: string, at: Date): Promise<void> {
    await this.#db
      .updateTable('signing_key')
      .set({ retired_at: at.toISOString() })
      .where('kid', '=', kid)
      .where('retired_at', 'is', null)
      .execute()
    const row = await this.#db
      .selectFrom('signing_key')
      .select('kid')
      .where('kid', '=', kid)
      .executeTakeFirst()
    if (row === undefined) {
      throw new UsageError(
        'ERR_KBS_SIGNING_KEY_UNKNOWN',
        `there is no signing key ${kid} to retire`,
        {
          hint: 'list the keys (jwks) and retire one of those',
        },
      )
    }
  }

  async purge(before: Date): Promise<number> {
    const result = await this.#db
      .deleteFrom('signing_key')
      .where('retired_at', 'is not', null)
      .where('retired_at', '<', before.toISOString())
      .executeTakeFirst()
    return Number(result.numDeletedRows)
  }
}

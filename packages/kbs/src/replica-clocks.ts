/**
 * The clock skew the KBS is made for. Replicas share no clock: a challenge made on one replica is
 * checked on another by that one's clock, a token signed on one is verified on another, a key
 * retired on one is judged on another. Each judges by its own clock, with no leeway (a stated
 * lifetime is a ceiling, not a suggestion), so between two replicas whose clocks are `s` apart a
 * challenge or token lives its stated lifetime ± `s`; single use rests on the database's clock
 * alone (`session-store.ts`).
 *
 * @module
 */

/**
 * How far apart any two clocks of one deployment (the replicas' and the database's) may be: 10 s,
 * e.g. one replica 5 s ahead and another 5 s behind. NTP (chrony, systemd-timesyncd) keeps them
 * within milliseconds; this is the margin for a node whose sync has lapsed.
 */
export const REPLICA_CLOCK_SKEW_MS = 10_000

/**
 * The shortest `[sessions] nonce-ttl` and `[tokens] lifetime`: 30 s, three times
 * {@link REPLICA_CLOCK_SKEW_MS}, so a challenge or token made on a replica behind and used on one
 * ahead still has at least 20 s.
 */
export const MIN_REPLICA_LIFETIME_MS: number = 3 * REPLICA_CLOCK_SKEW_MS

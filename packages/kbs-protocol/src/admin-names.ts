/**
 * Names and bounds in the KBS admin API that clients check before sending, by the rule the KBS
 * applies.
 *
 * @module
 */

const WORKLOAD_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/

/**
 * True for a valid workload name: `^[a-z0-9][a-z0-9._-]{0,62}$` (it is a URL path segment of
 * `/kbs/v0/admin/workloads/NAME` and a claim in the tokens the KBS signs).
 */
export function isWorkloadName(name: string): boolean {
  return WORKLOAD_NAME.test(name)
}

/**
 * The admin audience a KBS takes when none is configured, and the one admin clients name then:
 * Trustee's fixed `KBS`. It binds a token to no KBS in particular; a KBS that shares its admin key
 * with another should have its own (`kbs serve --admin-audience`).
 */
export const DEFAULT_ADMIN_AUDIENCE = 'KBS'

/** What {@link isAdminAudience} accepts, in words for messages. */
export const ADMIN_AUDIENCE_RULE =
  "1 to 255 characters: a letter or digit, then letters, digits and the URL characters - . _ ~ : / ? # [ ] @ ! $ & ' ( ) * + ; = % (no space, comma or quote), e.g. https://kbs.prod.example:8443"

const ADMIN_AUDIENCE = /^[A-Za-z0-9][A-Za-z0-9._~:/?#[\]@!$&'()*+;=%-]{0,254}$/

/**
 * True for an admin audience a KBS and its admin clients agree on ({@link ADMIN_AUDIENCE_RULE}):
 * one value, as a URL or URN would be written. No space, comma or quote, so that it cannot be read
 * as a list or be cut differently by a shell, a config file or a log reader.
 */
export function isAdminAudience(text: string): boolean {
  return ADMIN_AUDIENCE.test(text)
}

/**
 * The most audit entries one `POST /kbs/v0/admin/audit/prune` removes: a transaction bounded well
 * inside the KBS's statement timeout. A client prunes a larger range in steps of at most this.
 * On SQLite the step runs in the KBS's only thread and every request waits for it: 20000 entries
 * of 2 kB held it about 105 ms, 5000 about 27 ms.
 */
export const AUDIT_PRUNE_MAX = 5_000

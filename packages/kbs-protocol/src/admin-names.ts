/**
 * Names in the KBS admin API that clients check before sending, by the rule the KBS applies.
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

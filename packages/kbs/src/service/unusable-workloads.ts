/**
 * At start, one warning per stored workload the KBS will not use. A row that does not
 * authenticate, or a definition that no longer validates (a rule made stricter since it was put:
 * a TDX workload that pins no kernel, a CEL rule refused since), leaves that workload out of use,
 * fail closed: its guests are refused, and each refusal's audit entry says why. The warning says
 * it once, before the first guest is refused, so an upgrade's operator sees what to put again.
 *
 * @module
 */
import type { FastifyBaseLogger } from 'fastify'
import { isInitguardError } from '@initguard/core'
import type { WorkloadStore } from '../ports.ts'
import { checkWorkloadDefinition } from '../workloads/workload-definition.ts'

/** Warn on `log` of each stored workload that cannot be used, with why and how to fix it. */
export async function warnOfUnusableWorkloads(
  log: Pick<FastifyBaseLogger, 'warn'>,
  workloads: Pick<WorkloadStore, 'list'>,
): Promise<void> {
  let stored: Awaited<ReturnType<WorkloadStore['list']>>
  try {
    stored = await workloads.list()
  } catch (error) {
    // Not this check's to stop the start: every request reads the store again.
    log.warn({ err: error }, 'could not read the stored workloads at start to check them')
    return
  }
  for (const row of stored) {
    const { name: workload, version } = row
    if ('unusable' in row) {
      const { code, message } = row.unusable
      log.warn(
        { workload, version, reason: code },
        `workload ${workload} is out of use: ${message}; review it (workload get) and put it again`,
      )
      continue
    }
    try {
      checkWorkloadDefinition(row.definition)
    } catch (error) {
      if (!isInitguardError(error)) throw error
      const fix = error.hint === undefined ? '' : ` (${error.hint})`
      log.warn(
        { workload, version, reason: error.code },
        `workload ${workload} is out of use: its stored definition is invalid: ${error.message}${fix}; put it again, changed so the KBS accepts it`,
      )
    }
  }
}

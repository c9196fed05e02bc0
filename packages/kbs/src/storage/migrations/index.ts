/**
 * The migrations in order. Names sort in the order they run (`NNN-what`); a released name is
 * never changed or removed, since a database records the names it has run.
 *
 * @module
 */
import type { Migration } from 'kysely'
import type { DialectColumns } from '../dialect.ts'
import { initialMigration } from './001-initial.ts'
import { workloadMacMigration } from './002-workload-mac.ts'
import { auditSessionMigration } from './003-audit-session.ts'
import { sessionRowInlineMigration } from './004-session-row-inline.ts'
import { resourceGenerationMigration } from './005-resource-generation.ts'
import { signingKeyMacMigration } from './006-signing-key-mac.ts'
import { auditPruneMarkMigration } from './007-audit-prune-mark.ts'
import { auditCommitOrderMigration } from './008-audit-commit-order.ts'

/** Every migration this version knows, by name. */
export function kbsMigrations(columns: DialectColumns): Readonly<Record<string, Migration>> {
  return {
    '001-initial': initialMigration(columns),
    '002-workload-mac': workloadMacMigration(),
    '003-audit-session': auditSessionMigration(),
    '004-session-row-inline': sessionRowInlineMigration(columns),
    '005-resource-generation': resourceGenerationMigration(),
    '006-signing-key-mac': signingKeyMacMigration(),
    '007-audit-prune-mark': auditPruneMarkMigration(columns),
    '008-audit-commit-order': auditCommitOrderMigration(columns),
  }
}

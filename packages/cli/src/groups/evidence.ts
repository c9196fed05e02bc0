/** The `evidence` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { inspectCommand } from '../commands/evidence-inspect.ts'
import { verifySnpCommand } from '../commands/evidence-verify.ts'

export const evidenceCommands: CommandGroup['commands'] = [inspectCommand, verifySnpCommand]

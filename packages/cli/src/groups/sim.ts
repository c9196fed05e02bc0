/** The `sim` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { simEvidenceCommand } from '../commands/sim-evidence.ts'
import { simInitCommand } from '../commands/sim-init.ts'
import { simLaunchCommand } from '../commands/sim-launch.ts'

export const simCommands: CommandGroup['commands'] = [
  simInitCommand,
  simLaunchCommand,
  simEvidenceCommand,
]

/** The `agent` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { agentCheckInitdataCommand } from '../commands/agent-check-initdata.ts'
import { agentStartCommand } from '../commands/agent-start.ts'

export const agentCommands: CommandGroup['commands'] = [
  agentCheckInitdataCommand,
  agentStartCommand,
]

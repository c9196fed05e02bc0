/**
 * The `agent` command group: loaded only when one of its commands runs (or for help). Its cold
 * start is measured (`npm run bench`, "agent cold start"): keep what it imports small.
 */
import type { CommandGroup } from '../command.ts'
import { agentCheckInitdataCommand } from '../commands/agent-check-initdata.ts'
import { agentPullImageCommand } from '../commands/agent-pull-image.ts'
import { agentStartCommand } from '../commands/agent-start.ts'

export const agentCommands: CommandGroup['commands'] = [
  agentCheckInitdataCommand,
  agentStartCommand,
  agentPullImageCommand,
]

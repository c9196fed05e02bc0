/** The `kbs` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { kbsAdminCommand } from '../commands/kbs-admin.ts'
import { kbsGetResourceCommand } from '../commands/kbs-get-resource.ts'
import { kbsKeygenCommand } from '../commands/kbs-keygen.ts'
import { kbsServeCommand } from '../commands/kbs-serve.ts'

export const kbsCommands: CommandGroup['commands'] = [
  kbsServeCommand,
  kbsAdminCommand,
  kbsKeygenCommand,
  kbsGetResourceCommand,
]

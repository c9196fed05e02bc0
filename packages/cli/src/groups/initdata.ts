/** The `initdata` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { annotateCommand } from '../commands/initdata-annotate.ts'
import { buildCommand } from '../commands/initdata-build.ts'
import {
  digestCommand,
  explainCommand,
  qemuArgsCommand,
  verifyCommand,
} from '../commands/initdata-digest.ts'
import {
  decodeCommand,
  encodeCommand,
  imageCommand,
  readImageCommand,
} from '../commands/initdata-transport.ts'

export const initdataCommands: CommandGroup['commands'] = [
  buildCommand,
  digestCommand,
  encodeCommand,
  decodeCommand,
  imageCommand,
  readImageCommand,
  qemuArgsCommand,
  annotateCommand,
  verifyCommand,
  explainCommand,
]

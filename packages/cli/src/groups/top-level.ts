/** The commands without a group (`initguard demo`): loaded only when run (or for help). */
import type { Command } from '../command.ts'
import { demoCommand } from '../commands/demo.ts'

export const topLevelCommands: readonly Command[] = [demoCommand]

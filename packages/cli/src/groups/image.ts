/** The `image` command group: loaded only when one of its commands runs (or for help). */
import type { CommandGroup } from '../command.ts'
import { imageCheckCommand, imagePullCommand } from '../commands/image.ts'

export const imageCommands: CommandGroup['commands'] = [imageCheckCommand, imagePullCommand]

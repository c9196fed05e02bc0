/**
 * `@initguard/tee/hardware`: the hardware TEEs alone (configfs-tsm, Gramine, detection), so a
 * simulated guest does not load them and a hardware guest does not load the simulator.
 *
 * @module
 */
export { openHardwareTee } from './hardware-tee.ts'
export type { OpenHardwareTeeOptions } from './hardware-tee.ts'
export { checkSnpPrivlevel, TSM_PRIVLEVEL_MAX } from './configfs-tsm.ts'

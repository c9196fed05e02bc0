/**
 * The guests' process of `guest-fleet.ts`: simulated guests against the given replicas.
 * Argument: the `GuestFleetOptions` as JSON. Warms up, prints `ready`, then takes one command a
 * line on stdin — `{"rate":R,"seconds":S}`: an open loop of R handshakes a second for S seconds —
 * and answers each with a line on stdout: every latency (ms, sorted) as a JSON array. Exits when
 * stdin ends.
 */
import { createInterface } from 'node:readline'
import { loadSimulator } from '@initguard/tee-simulator'
import type { GuestFleetOptions, OpenLoopCommand } from './guest-fleet.ts'
import { benchGuests, closedLoop, openLoop, warmUp } from './kbs-load.ts'

/**
 * Seconds of closed loop before timing. One handshake per guest opens the connections but leaves
 * this process's own code cold: traced, the open loop's slowest handshakes (40–70 ms) came in
 * bursts within its first seconds, with no long collection in any KBS, while this process's
 * signing, TLS and JSON code was still being optimized.
 */
const WARM_SECONDS = 3

const options = JSON.parse(process.argv[2] ?? '{}') as GuestFleetOptions
const simulator = await loadSimulator(options.simulatorDir)
const guests = benchGuests({
  urls: options.urls,
  certPem: options.certPem,
  snp: simulator.material.snp,
  count: options.clients,
})
await warmUp(guests)
await closedLoop(guests, WARM_SECONDS)
process.stdout.write('ready\n')
for await (const line of createInterface({ input: process.stdin })) {
  const command = JSON.parse(line) as OpenLoopCommand
  // The connections stay open between commands (the benchmarks' KBS keeps them alive 2 minutes).
  const latencies = await openLoop(guests, command.rate, command.seconds)
  process.stdout.write(`${JSON.stringify(latencies)}\n`)
}

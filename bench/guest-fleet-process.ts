/**
 * The guests' process of `guest-fleet.ts`: simulated guests in an open loop against the given
 * replicas. Argument: the `GuestFleetOptions` as JSON. Prints every latency (ms, sorted) as a
 * JSON array on stdout.
 */
import { KbsClient } from '@initguard/kbs-protocol'
import { loadSimulator } from '@initguard/tee-simulator'
import type { GuestFleetOptions } from './guest-fleet.ts'
import { openLoop, warmUp } from './kbs-load.ts'

const options = JSON.parse(process.argv[2] ?? '{}') as GuestFleetOptions
const simulator = await loadSimulator(options.simulatorDir)
const clients = Array.from(
  { length: options.clients },
  (_, n) =>
    new KbsClient({
      url: options.urls[n % options.urls.length] ?? '',
      tls: { pinnedCertificatePem: options.certPem },
    }),
)
await warmUp(clients, simulator)
const latencies = await openLoop(clients, simulator, options.rate, options.seconds)
process.stdout.write(JSON.stringify(latencies))

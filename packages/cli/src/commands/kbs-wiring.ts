/**
 * The one place `initguard kbs serve` meets the KBS's storage, appraisal, tokens and protocol
 * library: everything else in the serve command depends only on the server module. The integrator
 * completes the calls here when the parts are merged.
 *
 * @module
 */
import {
  createAppraiser,
  createEvidenceVerifier,
  createTokenService,
  loadMasterKey,
  openKbsStore,
  parseWorkloadDefinition,
  type Appraiser,
  type KbsProtocolFunctions,
  type KbsServerConfig,
  type KbsStore,
  type TokenService,
} from '@initguard/kbs'
import { parseKbsAttestation, parseKbsRequest, sealResource } from '@initguard/kbs-protocol'

/** The services `buildKbsApp` needs besides the configuration. */
export interface KbsServices {
  readonly store: KbsStore
  readonly appraiser: Appraiser
  readonly tokens: TokenService
  readonly protocol: KbsProtocolFunctions
  readonly validateWorkload: (json: unknown) => unknown
  readonly simulatedTrust: boolean
}

/** Open the store in the data directory and build the appraiser and token service. */
export async function createKbsServices(config: KbsServerConfig, now: Date): Promise<KbsServices> {
  const masterKey = await loadMasterKey(config.dataDir)
  const store = await openKbsStore({ dataDir: config.dataDir, masterKey, now })
  const verifier = await createEvidenceVerifier({
    ...(config.trustSimDir === undefined ? {} : { trustSimDir: config.trustSimDir }),
    ...(config.collateralFile === undefined ? {} : { collateralFile: config.collateralFile }),
  })
  const tokens = await createTokenService({ store, lifetimeMs: config.tokenLifetimeMs, now })
  const appraiser = createAppraiser({ store, verifier })
  return {
    store,
    appraiser,
    tokens,
    protocol: { parseKbsRequest, parseKbsAttestation, sealResource },
    validateWorkload: parseWorkloadDefinition,
    simulatedTrust: config.trustSimDir !== undefined,
  }
}

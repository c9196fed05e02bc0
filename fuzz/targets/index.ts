/**
 * Every fuzz target, in the order `npm run fuzz` runs them.
 *
 * @module
 */
import type { FuzzTarget } from '../engine.ts'
import { collateralTarget } from './collateral.ts'
import { dcapTarget } from './dcap.ts'
import { httpTarget } from './http.ts'
import { initdataTarget } from './initdata.ts'
import { kbsMessagesTarget } from './kbs-messages.ts'
import { policyTarget } from './policy.ts'
import { signaturesTarget } from './signatures.ts'
import { snpTarget } from './snp.ts'
import { tarTarget } from './tar.ts'

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  initdataTarget,
  snpTarget,
  dcapTarget,
  collateralTarget,
  policyTarget,
  signaturesTarget,
  tarTarget,
  kbsMessagesTarget,
  httpTarget,
]

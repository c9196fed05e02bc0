/**
 * Test support for DCAP quotes from a synthetic Intel-shaped PKI (the TEE simulator's): one set of
 * times (certificates 2024–2034, collateral November–December 2026, verified 2026-11-29), a fresh
 * PKI, a Platform CA PCK, and collateral for it, to be trusted with `root: pki.root.pem`.
 *
 * @module
 */
import {
  buildDcapCollateral,
  createIntelTestPki,
  type DcapCollateralOptions,
  type IntelPckCertificate,
  type IntelTestPki,
} from '@initguard/tee-simulator'
import { parseCollateralJson, type DcapCollateral } from './collateral.ts'

/**
 * The certificates' validity (`notBefore`, `notAfter`), the collateral's window (`issueDate`,
 * `nextUpdate`) and the time of verification inside it (`now`).
 */
export const SYNTHETIC_TIMES = {
  notBefore: new Date('2024-01-01T00:00:00Z'),
  notAfter: new Date('2034-01-01T00:00:00Z'),
  issueDate: new Date('2026-11-01T00:00:00Z'),
  nextUpdate: new Date('2026-12-31T00:00:00Z'),
  now: new Date('2026-11-29T00:00:00Z'),
} as const

/** A synthetic PKI, its Platform CA PCK, and TDX/SGX collateral it signed. */
export interface SyntheticDcap {
  readonly pki: IntelTestPki
  readonly pck: IntelPckCertificate
  /** Collateral of the PKI (TDX unless `tee` says otherwise) with `options` over the defaults. */
  readonly collateral: (options?: Partial<Omit<DcapCollateralOptions, 'pki'>>) => DcapCollateral
}

/** A fresh {@link SyntheticDcap}. */
export function syntheticDcap(): SyntheticDcap {
  const { notBefore, notAfter, issueDate, nextUpdate } = SYNTHETIC_TIMES
  const pki = createIntelTestPki({ notBefore, notAfter })
  return {
    pki,
    pck: pki.issuePck({ ca: 'platform', notBefore, notAfter }),
    collateral: (options = {}) =>
      parseCollateralJson(
        buildDcapCollateral({
          pki,
          tee: 'tdx',
          issueDate,
          nextUpdate,
          ...options,
        }),
      ),
  }
}

/**
 * Test support for the KBS and guest API tests: a guest launched on the real TEE simulator
 * (`launchSimulatedGuest`, then `openSimulatedGuest`, as `initguard sim launch` and the agent do),
 * and its init-data checked by the agent's own check.
 */
import { stringToUtf8 } from '@initguard/core'
import { openSimulatedGuest, type GuestTee } from '@initguard/tee'
import { launchSimulatedGuest } from '@initguard/tee-simulator'
import { checkInitdata } from './initdata-check/check-initdata.ts'
import { tampered } from './initdata-check/launched-guest-test-support.ts'
import type { UnboundInitdata, VerifiedInitdata } from './verified-initdata.ts'

let launched = 0

/** A fresh SNP guest in the simulator at `simDir`, launched with the document `launchedWith`. */
export async function launchGuest(simDir: string, launchedWith: string): Promise<GuestTee> {
  const name = `guest-${++launched}`
  await launchSimulatedGuest({ simDir, name, tee: 'snp', initdata: stringToUtf8(launchedWith) })
  return openSimulatedGuest({ simDir, guest: name })
}

/** `text` checked against a fresh report of `tee` by the agent's init-data check. */
export function verifyInitdata(tee: GuestTee, text: string): Promise<VerifiedInitdata> {
  return checkInitdata(tee, {
    bytes: stringToUtf8(text),
    source: { kind: 'file', path: 'initdata.toml' },
  })
}

/**
 * A guest launched without init-data (its HOST_DATA read back as zeros) given `text`, checked
 * with running unbound allowed, and that guest.
 */
export async function unboundGuest(
  simDir: string,
  text: string,
): Promise<{ tee: GuestTee; initdata: UnboundInitdata }> {
  const tee = tampered(await launchGuest(simDir, text), (report) => ({
    ...report,
    initDataField: new Uint8Array(32),
  }))
  const initdata = await checkInitdata(
    tee,
    { bytes: stringToUtf8(text), source: { kind: 'file', path: 'initdata.toml' } },
    { allowUnbound: true },
  )
  if (!('unbound' in initdata)) throw new Error('expected an unbound result')
  return { tee, initdata }
}

/**
 * The SEV firmware version a report states (CURRENT_MAJOR.CURRENT_MINOR.CURRENT_BUILD) and how two
 * versions are ordered.
 *
 * @module
 */
import type { SnpReport } from './report.ts'

/** A SEV firmware version: API MAJOR.MINOR and the BUILD of that API version, each a byte. */
export interface SnpFirmwareVersion {
  readonly major: number
  readonly minor: number
  readonly build: number
}

/** The firmware running now: CURRENT_MAJOR (0x1EA), CURRENT_MINOR (0x1E9), CURRENT_BUILD (0x1E8). */
export function currentFirmwareVersion(report: SnpReport): SnpFirmwareVersion {
  return { major: report.currentMajor, minor: report.currentMinor, build: report.currentBuild }
}

/**
 * Whether `version` is at least `minimum`, ordered as one version: MAJOR, then MINOR, then BUILD
 * (1.56.0 is above 1.55.29).
 *
 * Not go-sev-guest's rule. Its `validate.Options` has two independent minimums, both required:
 * `MinimumVersion` bounds MAJOR.MINOR (compared as `major << 8 | minor`) and `MinimumBuild` bounds
 * BUILD alone, whatever the API version; so its minimum 1.49 + build 5 refuses firmware 1.52.4.
 * AMD's SEV API (PLATFORM_STATUS) describes BUILD as the firmware build ID for this API version:
 * across API versions it does not order firmware, and a build bound applied alone would refuse
 * newer firmware whose build count is lower. Ordered as one
 * version, a minimum still implies go-sev-guest's `MinimumVersion` bound on MAJOR.MINOR, and bounds
 * BUILD exactly where it means something: within the minimum's API version.
 *
 * @example
 * ```ts
 * firmwareVersionAtLeast({ major: 1, minor: 52, build: 4 }, { major: 1, minor: 49, build: 5 }) // true
 * firmwareVersionAtLeast({ major: 1, minor: 55, build: 21 }, { major: 1, minor: 55, build: 29 }) // false
 * ```
 */
export function firmwareVersionAtLeast(
  version: SnpFirmwareVersion,
  minimum: SnpFirmwareVersion,
): boolean {
  if (version.major !== minimum.major) return version.major > minimum.major
  if (version.minor !== minimum.minor) return version.minor > minimum.minor
  return version.build >= minimum.build
}

/** `MAJOR.MINOR.BUILD`, as AMD writes firmware versions (e.g. `1.55.29`). */
export function firmwareVersionText(v: SnpFirmwareVersion): string {
  return `${v.major}.${v.minor}.${v.build}`
}

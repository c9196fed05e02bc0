/**
 * The RCAR wire fixtures (`__fixtures__/`) for the message tests: their text, their JSON, and
 * which parser reads each.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import {
  parseKbsAttestation,
  parseKbsAttestationToken,
  parseKbsChallenge,
  parseKbsErrorBody,
  parseKbsRequest,
  parseKbsResourceJwe,
} from './message-parse.ts'

/** A fixture file's text, exactly. */
export function fixtureText(name: string): string {
  return readFileSync(new URL(`./__fixtures__/${name}`, import.meta.url), 'utf8')
}

/** A fixture file's JSON. */
export function fixtureJson(name: string): Record<string, unknown> {
  return JSON.parse(fixtureText(name)) as Record<string, unknown>
}

/** Each message fixture, its parser, and whether that parser refuses unknown top-level members. */
export const FIXTURE_PARSERS: readonly (readonly [string, (value: unknown) => unknown, boolean])[] =
  [
    ['request.json', parseKbsRequest, false],
    ['challenge.json', parseKbsChallenge, true],
    ['attestation-ec-initdata.json', parseKbsAttestation, false],
    ['attestation-rsa.json', parseKbsAttestation, false],
    ['attestation-token.json', parseKbsAttestationToken, true],
    ['resource-jwe.json', parseKbsResourceJwe, true],
    ['error-body.json', parseKbsErrorBody, false],
  ]

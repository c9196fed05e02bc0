/**
 * `--amd-crl KIND/PRODUCT=FILE` (repeatable; `amd-crl` in the config file, one string or a list):
 * AMD CRL files the KBS checks SEV-SNP chains against instead of fetching them from AMD KDS, for
 * air-gapped deployments. `KIND/PRODUCT` names the CRL as KDS serves it, `/{KIND}/v1/{PRODUCT}/crl`:
 * `vcek/Milan`, `vcek/Genoa`, `vcek/Turin` (ASK → VCEK chains), `vlek/Milan`, `vlek/Genoa`,
 * `vlek/Turin` (ASVK → VLEK chains). Spelt exactly so: a VLEK chain is never checked against the
 * VCEK CRL, which does not list the ASVK. The key is what says which list a file is: AMD signs the
 * VCEK and VLEK lists of a product with the same ARK key under the same name, so a file of the
 * other list is refused only when it carries an Issuing Distribution Point naming its KDS path.
 *
 * ```toml
 * amd-crl = ["vcek/Milan=crl/milan-vcek.crl", "vlek/Milan=crl/milan-vlek.crl"]
 * ```
 *
 * Once any is given, KDS is never asked for a CRL: a chain of a hierarchy and product without a
 * file is refused (503 `ERR_KBS_SNP_CRL_MISSING`). Flags replace the file's list; relative paths
 * in the file are relative to the file.
 *
 * @module
 */
import { resolve } from 'node:path'
import { UsageError } from '@initguard/core'
import { AMD_CRL_KEYS, type AmdCrlKey } from '../appraisal/snp-revocation.ts'
import { configValueError, shownValue } from './config-values.ts'

/** What the option's value looks like, for messages and help. */
export const AMD_CRL_VALUE_FORM = 'KIND/PRODUCT=FILE'

const EXPECTED = `${AMD_CRL_VALUE_FORM}, KIND/PRODUCT one of ${AMD_CRL_KEYS.join(', ')} (e.g. vcek/Milan=milan-vcek.crl)`

/** One value as given, where it was given, and what its relative path is relative to. */
export interface AmdCrlValue {
  readonly value: unknown
  /** `--amd-crl` or `amd-crl[i]`. */
  readonly where: string
  /** The directory a relative path is resolved against; none: as given (the working directory). */
  readonly base?: string
}

/**
 * The CRL files by hierarchy and product.
 *
 * @throws {@link UsageError} `ERR_KBS_CONFIG_VALUE` for a value that is not `KIND/PRODUCT=FILE`
 *   with a known `KIND/PRODUCT` (exact spelling) and a non-empty path, or a `KIND/PRODUCT` given
 *   twice.
 */
export function resolveAmdCrlFiles(
  values: readonly AmdCrlValue[],
): Readonly<Partial<Record<AmdCrlKey, string>>> {
  const files: Partial<Record<AmdCrlKey, string>> = {}
  for (const { value, where, base } of values) {
    if (typeof value !== 'string' || value.includes('\0'))
      throw configValueError(where, shownValue(value), EXPECTED)
    const equals = value.indexOf('=')
    const key = equals < 0 ? value : value.slice(0, equals)
    const file = equals < 0 ? '' : value.slice(equals + 1)
    if (!(AMD_CRL_KEYS as readonly string[]).includes(key) || file === '')
      throw configValueError(where, value, EXPECTED)
    const crlKey = key as AmdCrlKey
    if (files[crlKey] !== undefined) {
      throw new UsageError('ERR_KBS_CONFIG_VALUE', `${where}: the ${crlKey} CRL is given twice`, {
        details: { key: where, crl: crlKey },
        hint: `give one file per KIND/PRODUCT (the current CRL from AMD KDS /${crlKey.replace('/', '/v1/')}/crl)`,
      })
    }
    files[crlKey] = base === undefined ? file : resolve(base, file)
  }
  return files
}

/** The config file's `amd-crl`: one string or a list of them. */
export function amdCrlFileValues(value: unknown, base: string): AmdCrlValue[] {
  if (value === undefined) return []
  if (Array.isArray(value))
    return (value as unknown[]).map((item, i) => ({ value: item, where: `amd-crl[${i}]`, base }))
  return [{ value, where: 'amd-crl', base }]
}

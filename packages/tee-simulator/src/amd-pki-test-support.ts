/**
 * What the AMD test PKI's tests share: readers for a certificate's TBS fields and extensions, the
 * real AMD certificates in testdata/vectors, and the Milan, Turin and Genoa PKIs they issue from.
 *
 * @module
 */
import { readFileSync } from 'node:fs'
import { X509Certificate } from 'node:crypto'
import {
  bytesToHex,
  decodeDerBoolean,
  decodeDerExplicit,
  decodeDerInteger,
  decodeDerOctetString,
  decodeDerOid,
  decodeDerSequence,
  decodeDerTime,
  isInitguardError,
  parseDer,
} from '@initguard/core'
import type { DerElement, InitguardError } from '@initguard/core'
import { createAmdTestPki } from './amd-pki.ts'
import { AMD_EXTENSION_OID } from './amd-pki-types.ts'
import type { AmdProduct, AmdTestPki, SnpTcbParts } from './amd-pki-types.ts'

// Real AMD certificates from testdata/vectors (byte-identical copies of the shared vectors).
export const VECTORS = new URL('../../../testdata/vectors/snp/', import.meta.url)

/** A real certificate's DER, from a `.der` file or the first block of a `.pem` file. */
export function readCert(path: string): Uint8Array {
  const data = readFileSync(new URL(path, VECTORS))
  return path.endsWith('.pem')
    ? new Uint8Array(new X509Certificate(data).raw)
    : new Uint8Array(data)
}

export function readPemBundle(path: string): Uint8Array[] {
  const text = readFileSync(new URL(path, VECTORS), 'latin1')
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []
  return blocks.map((pem) => new Uint8Array(new X509Certificate(pem).raw))
}

export const hex = (b: Uint8Array): string => bytesToHex(b)

export function thrown(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an Initguard error')
}

export function tbsFields(der: Uint8Array): readonly DerElement[] {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  return decodeDerSequence(tbs, 'tbs')
}

export function tbsOf(der: Uint8Array): Uint8Array {
  const [tbs] = decodeDerSequence(parseDer(der), 'Certificate')
  if (tbs === undefined) throw new Error('no TBS')
  return tbs.encoded
}

export function validityOf(der: Uint8Array): { notBefore: Date; notAfter: Date } {
  const [notBefore, notAfter] = decodeDerSequence(tbsFields(der)[4], 'validity')
  return { notBefore: decodeDerTime(notBefore, 'nb'), notAfter: decodeDerTime(notAfter, 'na') }
}

export interface Ext {
  readonly oid: string
  readonly critical: boolean
  readonly value: Uint8Array
}

export function extensionsOf(der: Uint8Array): Ext[] {
  const fields = tbsFields(der)
  const last = fields[fields.length - 1]
  if (last?.tagClass !== 'context') return []
  return decodeDerSequence(decodeDerExplicit(last, 3, 'ext'), 'ext').map((e) => {
    const parts = decodeDerSequence(e, 'e')
    return {
      oid: decodeDerOid(parts[0], 'oid'),
      critical: parts.length === 3 && decodeDerBoolean(parts[1], 'critical'),
      value: decodeDerOctetString(parts[parts.length - 1], 'value'),
    }
  })
}

export function extValue(der: Uint8Array, oid: string): Uint8Array | undefined {
  return extensionsOf(der).find((e) => e.oid === oid)?.value
}

export function extInt(der: Uint8Array, oid: string): number {
  const v = extValue(der, oid)
  if (v === undefined) throw new Error(`no ${oid}`)
  return Number(decodeDerInteger(parseDer(v), oid))
}

export function tcbOf(der: Uint8Array, product: AmdProduct): SnpTcbParts {
  const base = {
    bootloader: extInt(der, AMD_EXTENSION_OID.blSpl),
    tee: extInt(der, AMD_EXTENSION_OID.teeSpl),
    snp: extInt(der, AMD_EXTENSION_OID.snpSpl),
    microcode: extInt(der, AMD_EXTENSION_OID.ucodeSpl),
  }
  return product === 'Turin' ? { ...base, fmc: extInt(der, AMD_EXTENSION_OID.fmcSpl) } : base
}

// RSA keys are generated once per test file: three RSA-2048 pairs take ~0.3–0.5 s on 2 cores.
export const NOT_BEFORE = new Date('2024-01-01T00:00:00Z')
export const NOT_AFTER = new Date('2049-01-01T00:00:00Z')
export const VCEK_NOT_AFTER = new Date('2031-01-01T00:00:00Z')
export const CHECK_TIME = new Date('2026-06-01T00:00:00Z')
export const milan = createAmdTestPki({
  product: 'Milan',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  withAsvk: true,
})
export const reuse = { ark: milan.ark, ask: milan.ask, asvk: milan.asvk ?? milan.ask }
export const turin = createAmdTestPki({
  product: 'Turin',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  keys: reuse,
  withAsvk: true,
})
export const genoa = createAmdTestPki({
  product: 'Genoa',
  notBefore: NOT_BEFORE,
  notAfter: NOT_AFTER,
  keys: reuse,
})
export const CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => (i * 37 + 11) & 0xff)
export const TURIN_CHIP_ID = Uint8Array.from({ length: 64 }, (_, i) => (i < 8 ? 0xa0 + i : 0))
export const MILAN_TCB: SnpTcbParts = { bootloader: 4, tee: 0, snp: 24, microcode: 219 }
export const TURIN_TCB: SnpTcbParts = { fmc: 1, bootloader: 1, tee: 1, snp: 4, microcode: 81 }

export function vcekOf(
  pki: AmdTestPki,
  chipId: Uint8Array,
  tcb: SnpTcbParts,
): ReturnType<AmdTestPki['issueVcek']> {
  return pki.issueVcek({ chipId, tcb, notBefore: NOT_BEFORE, notAfter: VCEK_NOT_AFTER })
}

/**
 * Test support for the AMD KDS client: a Milan test PKI whose anchors the client is given, and the
 * documents a KDS of that PKI serves (VCEKs by chip and TCB, CRLs), since the client keeps only
 * documents issued under its anchors.
 */
import { amdName, buildX509Crl, createAmdTestPki } from '@initguard/tee-simulator'
import type { SnpTrustAnchors } from '@initguard/snp'
import type { KdsTcb } from './amd-kds.ts'

const notBefore = new Date('2024-01-01T00:00:00Z')
const notAfter = new Date('2054-01-01T00:00:00Z')

/** The test PKI (Milan). */
export const KDS_TEST_PKI = createAmdTestPki({ product: 'Milan', notBefore, notAfter })

/** Its anchors, for `AmdKdsOptions.anchors`. */
export const KDS_TEST_ANCHORS: SnpTrustAnchors = {
  roots: {
    Milan: {
      product: 'Milan',
      ark: KDS_TEST_PKI.ark.pem,
      ask: KDS_TEST_PKI.ask.pem,
      asvk: '',
      fingerprints: { ark: '', ask: '', asvk: '' },
    },
  },
}

const vceks = new Map<string, Uint8Array>()

/** The test PKI's VCEK of `chipId` at `tcb` (made once per pair). */
export function testVcek(chipId: Uint8Array, tcb: KdsTcb): Uint8Array {
  const key = `${Buffer.from(chipId).toString('hex')}:${JSON.stringify(tcb)}`
  let der = vceks.get(key)
  if (der === undefined) {
    der = KDS_TEST_PKI.issueVcek({ chipId, tcb, notBefore, notAfter }).der
    vceks.set(key, der)
  }
  return der
}

/** The VCEK a KDS of the test PKI serves at `path` (`/vcek/v1/Milan/{hex}?blSPL=…`). */
export function testVcekAt(path: string): Uint8Array {
  const url = new URL(path, 'http://kds')
  const spl = (name: string): number => Number(url.searchParams.get(name) ?? 0)
  return testVcek(Buffer.from(url.pathname.split('/').at(-1) ?? '', 'hex'), {
    bootloader: spl('blSPL'),
    tee: spl('teeSPL'),
    snp: spl('snpSPL'),
    microcode: spl('ucodeSPL'),
  })
}

const crls = new Map<number, Uint8Array>()

/** A whole second an hour before the tests started: the CRLs' thisUpdate counts from it. */
const CRL_EPOCH = Math.floor(Date.now() / 1000) * 1000 - 3_600_000

/**
 * A CRL of the test PKI's ARK, current for 30 days from `n` seconds after {@link CRL_EPOCH}; `n`
 * makes CRLs that differ (it is also the revoked serial), a greater `n` a later issue, the same
 * `n` the same CRL.
 */
export function testCrl(n: number): Uint8Array {
  let der = crls.get(n)
  if (der === undefined) {
    der = crlFrom(n, new Date(CRL_EPOCH + n * 1000))
    crls.set(n, der)
  }
  return der
}

function crlFrom(n: number, thisUpdate: Date): Uint8Array {
  return buildX509Crl(
    {
      issuer: amdName('ARK-Milan'),
      thisUpdate,
      nextUpdate: new Date(thisUpdate.getTime() + 30 * 86_400_000),
      revoked: [{ serialNumber: BigInt(n), revocationDate: thisUpdate }],
      signatureAlgorithm: 'rsassa-pss-sha384',
    },
    KDS_TEST_PKI.ark.privateKey,
  )
}

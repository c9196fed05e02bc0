import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { buildInitdataImage, encodeAnnotation } from '@initguard/initdata'
import { buildX509Crl, amdName, createAmdTestPki, derToPem } from '@initguard/tee-simulator'
import { gzipSync } from 'node:zlib'
import { identifyFile } from './file-kind.ts'

const VECTORS = fileURLToPath(new URL('../../../../testdata/vectors/', import.meta.url))
const vector = (path: string): Uint8Array => new Uint8Array(readFileSync(VECTORS + path))
const DOCUMENT = new TextEncoder().encode(
  'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs]\n\'\'\'\n',
)

describe('identifyFile (real vendor files)', () => {
  it.each([
    ['snp/milan-v2-a/vcek.der', 'amd-certificate', 'SEV-VCEK'],
    ['snp/milan-v3-hostdata/vcek.pem', 'amd-certificate', 'SEV-VCEK'],
    ['snp/milan-v3-vlek/vlek.der', 'amd-certificate', 'SEV-VLEK'],
    ['snp/turin-vcek-only/vcek.der', 'amd-certificate', 'SEV-VCEK'],
    ['snp/amd-roots/ask_ark_milan.pem', 'amd-certificate', 'SEV-Milan'],
    ['snp/amd-roots/ask_ark_genoa_vlek.pem', 'amd-certificate', 'SEV-VLEK-Genoa'],
    ['tdx/intel-root/intel_sgx_root_ca.pem', 'intel-certificate', 'Intel SGX Root CA'],
    ['tdx/spr-v4/tcb-signing-chain.pem', 'intel-certificate', 'Intel SGX TCB Signing'],
    ['tdx/spr-v4/pck-crl-issuer-chain.pem', 'intel-certificate', 'Intel SGX PCK Platform CA'],
    ['tdx/spr-v4/root-ca-crl.der', 'intel-crl', 'Intel SGX Root CA'],
    ['tdx/spr-v4/pck-platform-crl.der', 'intel-crl', 'Intel SGX PCK Platform CA'],
  ])('%s is %s (%s)', (path, kind, cn) => {
    const identified = identifyFile(vector(path))
    expect(identified?.kind).toBe(kind)
    expect(identified?.commonName).toBe(cn)
  })

  it.each([
    ['ccel/CCEL_data', 'ccel-event-log'],
    ['ccel/CCEL_data_grub', 'ccel-event-log'],
    ['ccel/CCEL_data_ovmf', 'ccel-event-log'],
    ['tdx/spr-v4/collateral.json', 'dcap-collateral-json'],
    ['sgx/v3-a/collateral.json', 'dcap-collateral-json'],
    ['tdx/spr-v4/tcbinfo-response.json', 'pcs-tcb-info'],
    ['tdx/spr-v4/qeidentity-response.json', 'pcs-qe-identity'],
  ])('%s is %s', (path, kind) => {
    expect(identifyFile(vector(path))?.kind).toBe(kind)
  })

  it('names the option for each', () => {
    expect(identifyFile(vector('snp/milan-v2-a/vcek.der'))?.instead).toContain('--certs')
    expect(identifyFile(vector('tdx/spr-v4/tcbinfo-response.json'))?.instead).toContain(
      '--collateral',
    )
    expect(identifyFile(vector('tdx/spr-v4/root-ca-crl.der'))?.instead).toContain('--collateral')
  })

  it.each([
    'snp/milan-v2-a/report.bin',
    'snp/milan-v3-hostdata/report.bin',
    'snp/milan-v3-vlek/report.bin',
    'tdx/v4-b/quote.dat',
    'tdx/spr-v4/quote.dat',
    'sgx/v3-a/quote.dat',
    'sgx/v3-b/quote.dat',
  ])('leaves the evidence %s to the evidence parsers', (path) => {
    expect(identifyFile(vector(path))).toBeUndefined()
  })
})

describe('identifyFile (synthetic files)', () => {
  const now = new Date('2024-01-01T00:00:00Z')
  const later = new Date('2030-01-01T00:00:00Z')
  const pki = createAmdTestPki({ product: 'Genoa', notBefore: now, notAfter: later })

  it('knows an initdata document in each of its forms', () => {
    expect(identifyFile(DOCUMENT)?.kind).toBe('initdata-document')
    expect(identifyFile(DOCUMENT)?.instead).toContain('--expect-initdata')
    expect(identifyFile(buildInitdataImage(DOCUMENT))?.instead).toContain('read-image')
    const annotation = new TextEncoder().encode(`${encodeAnnotation(DOCUMENT)}\n`)
    expect(identifyFile(annotation)?.kind).toBe('initdata-annotation')
    expect(identifyFile(annotation)?.instead).toContain('initdata decode')
    expect(identifyFile(new Uint8Array(gzipSync(DOCUMENT)))?.kind).toBe('gzip')
  })

  it('knows an ACPI CCEL table, an AMD CRL and a PEM CRL', () => {
    const table = new Uint8Array(56)
    table.set(new TextEncoder().encode('CCEL'))
    expect(identifyFile(table)?.kind).toBe('ccel-event-log')
    const crl = buildX509Crl(
      {
        issuer: amdName('ARK-Genoa'),
        thisUpdate: now,
        nextUpdate: later,
        revoked: [],
        signatureAlgorithm: 'rsassa-pss-sha384',
      },
      pki.ark.privateKey,
    )
    expect(identifyFile(crl)).toMatchObject({ kind: 'amd-crl', commonName: 'ARK-Genoa' })
    expect(identifyFile(crl)?.instead).toContain('--crl')
    const pem = `-----BEGIN X509 CRL-----\n${Buffer.from(crl).toString('base64')}\n-----END X509 CRL-----\n`
    expect(identifyFile(new TextEncoder().encode(pem))?.kind).toBe('amd-crl')
  })

  it('counts the certificates of a PEM bundle and names the first', () => {
    const identified = identifyFile(new TextEncoder().encode(pki.vcekChainPem))
    expect(identified?.kind).toBe('amd-certificate')
    expect(identified?.certificates).toBe(2)
    expect(
      identifyFile(new TextEncoder().encode(derToPem(pki.ark.der, 'CERTIFICATE'))),
    ).toMatchObject({
      commonName: 'ARK-Genoa',
    })
  })

  it('does not mistake Trustee evidence JSON, other JSON, text or empty input for anything', () => {
    for (const text of [
      '{"attestation_report": "AAAA", "cert_chain": null}',
      '{"quote": "AAAA", "cc_eventlog": null}',
      '{"tcb": 1',
      'version = "0.1.0"',
      '-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----',
      '',
    ])
      expect(identifyFile(new TextEncoder().encode(text))).toBeUndefined()
  })

  it('never throws, whatever the bytes', () => {
    const prefixes = [
      [],
      [0x30, 0x82],
      [0x1f, 0x8b],
      [...new TextEncoder().encode('-----BEGIN CERTIFICATE-----\n')],
      [...new TextEncoder().encode('-----BEGIN X509 CRL-----\n')],
      [...new TextEncoder().encode('{"tcbInfo":')],
      [0, 0, 0, 0, 3, 0, 0, 0],
    ]
    fc.assert(
      fc.property(
        fc.constantFrom(...prefixes),
        fc.uint8Array({ maxLength: 2048 }),
        (prefix, rest) => {
          const result = identifyFile(new Uint8Array([...prefix, ...rest]))
          expect(result === undefined || typeof result.what === 'string').toBe(true)
        },
      ),
      { numRuns: 2000 },
    )
  })
})

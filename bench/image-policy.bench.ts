/**
 * Image policy: verifying containers/image's real cosign fixture (`dir-img-cosign-valid`, ECDSA
 * P-256 with `cosign.pub`) and parsing its payload, against the raw `node:crypto` verify of the
 * same signature over the same payload, the floor of any verifier.
 */
import { createPublicKey, verify } from 'node:crypto'
import { readFileSync } from 'node:fs'
import {
  decodeSignatureBlob,
  parseSignaturePayload,
  verifySigstoreSignature,
} from '@initguard/image-policy'
import type { Benchmark } from './harness.ts'

const folder = new URL('../testdata/vectors/image-signatures/', import.meta.url)
const publicKey = new Uint8Array(readFileSync(new URL('cosign.pub', folder)))
const decoded = decodeSignatureBlob(
  new Uint8Array(readFileSync(new URL('dir-img-cosign-valid/signature-1', folder))),
  'signature-1',
)
if (decoded.format !== 'sigstore') throw new Error('expected a sigstore signature')
const signature = decoded.signature
const now = new Date('2026-06-01T00:00:00Z')
const trust = { publicKeys: [publicKey] }

const key = createPublicKey(Buffer.from(publicKey))
const raw = Buffer.from(
  signature.annotations.get('dev.cosignproject.cosign/signature') ?? '',
  'base64',
)
if (!verify('sha256', signature.payload, key, raw)) throw new Error('baseline does not verify')

export const benchmarks: readonly Benchmark[] = [
  {
    name: 'cosign signature verification + payload (real fixture)',
    unit: 'ops/s',
    goal: 0.8,
    run: () =>
      parseSignaturePayload(
        verifySigstoreSignature(signature, trust, now).payloadBytes,
        'cosign container image signature',
      ),
    baseline: {
      name: 'node:crypto ECDSA P-256 verify',
      run: () => verify('sha256', signature.payload, key, raw),
    },
  },
]

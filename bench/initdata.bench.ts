/**
 * initdata: digest, parse and annotation decoding, each against the raw `node:crypto` or
 * `node:zlib` operation on the same bytes. The gap is our own overhead.
 */
import { createHash } from 'node:crypto'
import { gunzipSync } from 'node:zlib'
import {
  bindingFor,
  decodeAnnotation,
  encodeAnnotation,
  hashBytes,
  parseInitdata,
  renderInitdata,
} from '@initguard/initdata'
import type { Benchmark } from './harness.ts'

const policy =
  'package agent_policy\n\n' + 'default AllowRequestsFailingPolicy := false\n'.repeat(90)
const document = renderInitdata({
  algorithm: 'sha384',
  data: {
    'aa.toml': '[token_configs.kbs]\nurl = "https://kbs.example:8080"\n',
    'cdh.toml': '[kbc]\nname = "cc_kbc"\nurl = "https://kbs.example:8080"\n',
    'policy.rego': policy,
  },
})
const annotation = encodeAnnotation(document)
const kib = Math.round(document.length / 1024)

export const benchmarks: readonly Benchmark[] = [
  {
    name: `initdata digest, ${kib} KiB, fitted to TDX MRCONFIGID`,
    unit: 'ops/s',
    run: () => bindingFor('tdx', 'sha384', hashBytes('sha384', document)).value,
    baseline: {
      name: 'node:crypto sha384',
      run: () => createHash('sha384').update(document).digest(),
    },
  },
  {
    name: `initdata parse + validate + digest, ${kib} KiB`,
    unit: 'ops/s',
    run: () => parseInitdata(document).digest,
    baseline: {
      name: 'node:crypto sha384',
      run: () => createHash('sha384').update(document).digest(),
    },
  },
  {
    name: `annotation decode (base64 + gunzip), ${kib} KiB`,
    unit: 'ops/s',
    run: () => decodeAnnotation(annotation),
    baseline: {
      name: 'Buffer base64 + node:zlib gunzipSync',
      run: () => gunzipSync(Buffer.from(annotation, 'base64')),
    },
  },
]

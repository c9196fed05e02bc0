/**
 * initdata: the document (TOML), the Kata annotation (base64 of gzip, and the gzip inside it), the
 * initdata block device, the config TOML inside a document, and the pod-template annotator (YAML).
 *
 * @module
 */
import { bytesToBase64 } from '@initguard/core'
import {
  KATA_INITDATA_ANNOTATION,
  TEE_KINDS,
  buildInitdataImage,
  checkBinding,
  decodeAnnotation,
  encodeAnnotation,
  explainBinding,
  gzip,
  parseConfigToml,
  parseInitdata,
  readInitdataImage,
  renderInitdata,
} from '@initguard/initdata'
import { annotatePodTemplates } from '@initguard/initdata/kubernetes'
import { madeSeed, repoFile, text } from '../corpus.ts'
import { rethrowUnlessTyped, type FuzzSeed, type FuzzTarget } from '../engine.ts'

/** The binding checks `appraise` runs (replaceable, so a test can make one throw untyped). */
export interface BindingChecks {
  readonly checkBinding: typeof checkBinding
  readonly explainBinding: typeof explainBinding
}

/**
 * What a relying party does with a document: every TEE's binding, checked, and explained when the
 * check refuses it (a typed refusal; anything else is a failure and goes up).
 */
export function appraise(
  bytes: Uint8Array,
  checks: BindingChecks = { checkBinding, explainBinding },
): void {
  const document = parseInitdata(bytes)
  for (const tee of TEE_KINDS) {
    const expected = new Uint8Array(tee === 'tdx' ? 48 : 32)
    try {
      checks.checkBinding(document, tee, expected)
    } catch (error) {
      rethrowUnlessTyped(error)
      checks.explainBinding(document, tee, expected)
    }
  }
}

const CONFIG_ERROR = {
  code: 'ERR_FUZZ_CONFIG_TOML',
  what: 'aa.toml',
  hint: 'fix the TOML',
} as const

export const initdataTarget: FuzzTarget = {
  name: 'initdata',
  description: 'parseInitdata, the Kata annotation and block image, config TOML, the pod annotator',
  prepare: async () => {
    const examples = 'packages/cli/examples/'
    const [aa, cdh, policy, manifest, annotated] = await Promise.all(
      [
        `${examples}aa.toml`,
        `${examples}cdh.toml`,
        `${examples}policy.rego`,
        'packages/initdata/src/__fixtures__/kubernetes/multi-document.yaml.txt',
        'packages/initdata/src/__fixtures__/kubernetes/multi-document.annotated.yaml.txt',
      ].map(async (p) => text(await repoFile(p))),
    )
    const documents = [
      renderInitdata({
        algorithm: 'sha384',
        data: { 'aa.toml': aa ?? '', 'cdh.toml': cdh ?? '', 'policy.rego': policy ?? '' },
      }),
      renderInitdata({ algorithm: 'sha256', data: { 'aa.toml': aa ?? '' } }),
      renderInitdata({ algorithm: 'sha512', data: { 'cdh.toml': cdh ?? '' } }),
      new TextEncoder().encode(
        'version = "0.1.0"\nalgorithm = "sha384"\n\n[data]\n"aa.toml" = \'\'\'\n[token_configs.kbs]\nurl = "https://127.0.0.1"\n\'\'\'\n',
      ),
    ]
    const seeds: FuzzSeed[] = []
    documents.forEach((document, i) => {
      const origin = `document ${String(i)} from packages/cli/examples`
      seeds.push(madeSeed('document', 'toml', document, origin))
      seeds.push(
        madeSeed('annotation', 'text', encodeAnnotation(document), `annotation of ${origin}`),
      )
      seeds.push(madeSeed('annotation-gzip', 'binary', gzip(document), `gzip of ${origin}`))
      seeds.push(
        madeSeed('block-image', 'binary', buildInitdataImage(document), `block image of ${origin}`),
      )
    })
    for (const config of [aa, cdh])
      seeds.push(madeSeed('config-toml', 'toml', config ?? '', 'packages/cli/examples'))
    for (const yaml of [manifest, annotated])
      seeds.push(madeSeed('annotate', 'text', yaml ?? '', 'initdata fixtures'))
    const value = encodeAnnotation(documents[0] ?? new Uint8Array())
    return {
      seeds,
      entries: {
        document: (input) => {
          appraise(input)
        },
        annotation: (input) => {
          appraise(decodeAnnotation(text(input)))
        },
        'annotation-gzip': (input) => {
          appraise(decodeAnnotation(bytesToBase64(input)))
        },
        'block-image': (input) => {
          appraise(readInitdataImage(input))
        },
        'config-toml': (input) => parseConfigToml(text(input), CONFIG_ERROR),
        annotate: (input) =>
          annotatePodTemplates(text(input), { key: KATA_INITDATA_ANNOTATION, value }),
      },
    }
  },
}

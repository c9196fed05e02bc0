import { describe, expect, it } from 'vitest'
import {
  KEY,
  VALUE,
  data,
  pod,
  refusal,
  run,
  withAnnotation,
} from './kubernetes-annotation-test-support.ts'

/** The annotation's line, without indentation. */
const LINE = `${KEY}: ${VALUE}`

const deployment = (annotations: string, eol = '\n'): string =>
  [
    'apiVersion: apps/v1',
    'kind: Deployment',
    'metadata:',
    '  name: web',
    'spec:',
    '  template:',
    '    metadata:',
    `      annotations: ${annotations}`,
    '      labels: {app: web}',
    '    spec:',
    '      containers: []',
    '',
  ].join(eol)

describe('annotatePodTemplates: an empty flow map, as Helm and kubectl write it', () => {
  const cases: [string, string, string][] = [
    ['{}', '{}', ''],
    ['{ } with blanks inside', '{  }', ''],
    ['{} with a comment', '{}   # set by the chart', '   # set by the chart'],
    ['{} with blanks after it', '{} \t', ' \t'],
  ]
  for (const [label, flow, kept] of cases) {
    it(`annotations: ${label} is replaced by the annotation, the rest byte for byte`, () => {
      const input = deployment(flow)
      const out = run(input)
      expect(out.text).toBe(
        input.replace(`annotations: ${flow}\n`, `annotations:${kept}\n        ${LINE}\n`),
      )
      expect(out.placements).toEqual([
        {
          document: 1,
          kind: 'Deployment',
          name: 'web',
          path: 'spec.template.metadata.annotations',
          line: 9,
          action: 'inserted',
        },
      ])
      expect(data(out.text)).toEqual(
        data(input).map((d) => withAnnotation(d, 'spec.template.metadata.annotations')),
      )
    })
  }

  it('keeps CRLF line ends and a file without a final newline', () => {
    const crlf = deployment('{}', '\r\n')
    expect(run(crlf).text).toBe(
      crlf.replace('annotations: {}\r\n', `annotations:\r\n        ${LINE}\r\n`),
    )
    const last = 'apiVersion: v1\nkind: Pod\nmetadata:\n  annotations: {}'
    expect(run(last).text).toBe(`apiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    ${LINE}`)
  })

  it('metadata: {} gets annotations the same way', () => {
    const input = pod('metadata: {}\n')
    expect(run(input).text).toBe(pod(`metadata:\n  annotations:\n    ${LINE}\n`))
  })

  it('a flow map with entries is refused clearly, never rewritten', () => {
    for (const flow of ['{a: b}', `{${KEY}: x}`, '{ a.example/x: "1" }']) {
      const error = refusal(deployment(flow))
      expect(error.code, flow).toBe('ERR_K8S_FLOW_STYLE')
      expect(error.message).toContain('spec.template.metadata.annotations')
    }
  })

  it('an empty flow map over several lines, or with an anchor or tag, is refused', () => {
    expect(refusal(deployment('{\n      }')).code).toBe('ERR_K8S_LAYOUT_UNSUPPORTED')
    expect(refusal(deployment('&shared {}')).code).toBe('ERR_K8S_ALIAS')
    expect(refusal(deployment('!!map {}')).code).toBe('ERR_K8S_TAG')
  })
})

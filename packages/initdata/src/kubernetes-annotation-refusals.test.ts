import { describe, expect, it } from 'vitest'
import type { PodAnnotation } from './kubernetes-annotation.ts'
import { KEY, OLD, VALUE, pod, refusal, run } from './kubernetes-annotation-test-support.ts'
import { MAX_ANNOTATIONS_SIZE } from './kubernetes-annotation-validation.ts'

describe('annotatePodTemplates: refusals', () => {
  const deployment = (template: string): string =>
    `apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\nspec:\n  replicas: 1\n${template}`

  it.each([
    [
      'no spec',
      'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n',
      'ERR_K8S_TEMPLATE_MISSING',
      1,
    ],
    ['no spec.template', deployment('  selector: {}\n'), 'ERR_K8S_TEMPLATE_MISSING', 5],
    ['an empty spec.template', deployment('  template:\n'), 'ERR_K8S_TEMPLATE_MISSING', 7],
    ['spec.template: null', deployment('  template: null\n'), 'ERR_K8S_TEMPLATE_MISSING', 7],
    [
      'a CronJob without jobTemplate',
      'kind: CronJob\nspec:\n  schedule: x\n',
      'ERR_K8S_TEMPLATE_MISSING',
      2,
    ],
    [
      'a flow metadata map with entries',
      deployment('  template:\n    metadata: {name: p}\n'),
      'ERR_K8S_FLOW_STYLE',
      8,
    ],
    [
      'a flow annotations map',
      deployment('  template:\n    metadata:\n      annotations: {a: b}\n'),
      'ERR_K8S_FLOW_STYLE',
      9,
    ],
    [
      'a JSON document',
      '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}\n',
      'ERR_K8S_FLOW_STYLE',
      1,
    ],
    [
      'an alias for the template',
      deployment('  template: *t\n').replace('replicas: 1', 'replicas: &t 1'),
      'ERR_K8S_ALIAS',
      7,
    ],
    [
      'an anchor on metadata',
      deployment('  template:\n    metadata: &m\n      name: x\n'),
      'ERR_K8S_ALIAS',
      8,
    ],
    [
      'an alias key',
      deployment('  template:\n    *k : x\n    metadata:\n      name: y\n').replace(
        'name: d',
        '&k name: d',
      ),
      'ERR_K8S_ALIAS',
      8,
    ],
    [
      'a merge key',
      `base: &b\n  labels: {}\n${deployment('  template:\n    metadata:\n      <<: *b\n')}`,
      'ERR_K8S_MERGE_KEY',
      11,
    ],
    ['a merge key with no kind', 'defaults: &d\n  kind: Pod\n<<: *d\n', 'ERR_K8S_MERGE_KEY', 3],
    ['a tag on the path', deployment('  template: !!map\n    metadata: {}\n'), 'ERR_K8S_TAG', 7],
    ['a scalar metadata', deployment('  template:\n    metadata: 3\n'), 'ERR_K8S_NOT_A_MAP', 8],
    ['metadata: null', pod('metadata: null\n'), 'ERR_K8S_NOT_A_MAP', 3],
    [
      'a sequence of annotations',
      pod('metadata:\n  annotations:\n  - a\n'),
      'ERR_K8S_NOT_A_MAP',
      4,
    ],
    ['a root sequence', '- kind: Pod\n', 'ERR_K8S_ROOT_NOT_MAP', 1],
    ['a root scalar', 'kind: Service\n---\njust text\n', 'ERR_K8S_ROOT_NOT_MAP', 3],
    [
      'List items that are not a sequence',
      'kind: List\nitems:\n  a: b\n',
      'ERR_K8S_NOT_A_SEQUENCE',
      3,
    ],
    ['a List item that is not a map', 'kind: List\nitems:\n- 3\n', 'ERR_K8S_NOT_A_MAP', 3],
    [
      'an annotation whose value is a map',
      pod(`metadata:\n  annotations:\n    ${KEY}:\n      x: y\n`),
      'ERR_K8S_ANNOTATION_NOT_STRING',
      6,
    ],
    [
      'an annotation with a binary tag',
      pod(`metadata:\n  annotations:\n    ${KEY}: !!binary ${OLD}\n`),
      'ERR_K8S_TAG',
      5,
    ],
    [
      'an annotation in a block scalar',
      pod(`metadata:\n  annotations:\n    ${KEY}: |\n      ${OLD}\n`),
      'ERR_K8S_LAYOUT_UNSUPPORTED',
      5,
    ],
    ['an explicit ? key', pod('? metadata\n: name: p\n'), 'ERR_K8S_LAYOUT_UNSUPPORTED', 3],
    [
      'no pod template at all',
      'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n',
      'ERR_K8S_NO_POD_TEMPLATE',
      undefined,
    ],
    ['an empty input', '', 'ERR_K8S_NO_POD_TEMPLATE', undefined],
    ['a lone carriage return', 'kind: Pod\rmetadata: {}\n', 'ERR_K8S_LINE_ENDING', 1],
  ])('refuses %s', (_, input, code, line) => {
    const error = refusal(input)
    expect(error.code).toBe(code)
    expect(error.category).toBe('malformed')
    expect(error.hint).toBeTruthy()
    if (line !== undefined) expect(error.details['line']).toBe(line)
    if (code !== 'ERR_K8S_NO_POD_TEMPLATE' && code !== 'ERR_K8S_LINE_ENDING') {
      expect(error.details['document']).toBeGreaterThanOrEqual(1)
      expect(error.message).toMatch(/^document \d+/)
    }
  })

  it('reports the document, line and column of a YAML syntax error, without echoing the input', () => {
    const input = `kind: Service\n---\nkind: Pod\nmetadata:\n  name: "secret-ish\n  labels: x\n`
    const error = refusal(input)
    expect(error.code).toBe('ERR_K8S_YAML_INVALID')
    expect(error.details).toMatchObject({ document: 2 })
    expect(typeof error.details['line']).toBe('number')
    expect(typeof error.details['column']).toBe('number')
    expect(error.message).not.toContain('secret-ish')
    const dup = refusal('kind: Pod\nmetadata:\n  name: a\n  name: b\n')
    expect(dup.code).toBe('ERR_K8S_YAML_INVALID')
    expect(dup.details).toMatchObject({
      document: 1,
      line: 4,
      column: 3,
      parserCode: 'DUPLICATE_KEY',
    })
  })

  it('refuses documents it cannot resolve or that nest absurdly deep', () => {
    expect(refusal('kind: Pod\nmetadata: {name: p}\nspec:\n  x: *nowhere\n').code).toBe(
      'ERR_K8S_FLOW_STYLE',
    )
    expect(refusal('kind: Pod\nspec:\n  x: *nowhere\n').code).toBe('ERR_K8S_YAML_INVALID')
    const deep = `kind: Pod\nspec: ${'['.repeat(300)}${']'.repeat(300)}\n`
    expect(refusal(deep).code).toBe('ERR_K8S_TOO_DEEP')
  })

  it('refuses a bad annotation key or value as a usage error', () => {
    const bad = (annotation: PodAnnotation): string => {
      const error = refusal(pod('metadata:\n'), annotation)
      expect(error.category).toBe('usage')
      return error.code
    }
    for (const key of [
      '',
      'a/b/c',
      '-a',
      'a-',
      'a/',
      '/a',
      'Bad_Prefix/x',
      'a b',
      'ä',
      'x'.repeat(64),
      `${'a'.repeat(254)}/x`,
      'a"b',
    ]) {
      expect(bad({ key, value: VALUE })).toBe('ERR_K8S_ANNOTATION_KEY_INVALID')
    }
    for (const key of ['a', 'A/x', 'x'.repeat(63), `${'a'.repeat(253)}/x`, 'io.x/A.b_c-D']) {
      expect(() => run(pod('metadata:\n'), { key, value: VALUE })).not.toThrow()
    }
    for (const value of ['', 'H4sI A', 'H4sI\n', '-H4s', 'H4sI#', '"H4sI"', 'H4sI_']) {
      expect(bad({ key: KEY, value })).toBe('ERR_K8S_ANNOTATION_VALUE_INVALID')
    }
  })

  it('refuses an annotation larger than Kubernetes allows', () => {
    const value = 'A'.repeat(MAX_ANNOTATIONS_SIZE - KEY.length + 1)
    const error = refusal(pod('metadata:\n'), { key: KEY, value })
    expect(error.code).toBe('ERR_K8S_ANNOTATION_TOO_LARGE')
    expect(error.category).toBe('usage')
    expect(error.message).toMatch(/too large/)
    expect(error.hint).toMatch(/block device/)
    expect(() => run(pod('metadata:\n'), { key: KEY, value: value.slice(1) })).not.toThrow()

    const others = pod(`metadata:\n  annotations:\n    big: ${'B'.repeat(200_000)}\n`)
    const total = refusal(others, { key: KEY, value: 'A'.repeat(70_000) })
    expect(total.code).toBe('ERR_K8S_ANNOTATIONS_TOTAL_TOO_LARGE')
    expect(total.category).toBe('expectation')
    expect(total.details).toMatchObject({ document: 1, line: 5 })
  })
})

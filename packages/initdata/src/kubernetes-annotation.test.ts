import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import fc from 'fast-check'
import { parseAllDocuments } from 'yaml'
import { isInitguardError } from '@initguard/core'
import type { InitguardError } from '@initguard/core'
import { KATA_INITDATA_ANNOTATION, encodeAnnotation } from './kata.ts'
import { MAX_ANNOTATIONS_SIZE, annotatePodTemplates } from './kubernetes-annotation.ts'
import type { AnnotatePodTemplatesResult, PodAnnotation } from './kubernetes-annotation.ts'

const KEY = KATA_INITDATA_ANNOTATION
const VALUE = encodeAnnotation(
  new TextEncoder().encode('version = "0.1.0"\nalgorithm = "sha256"\n\n[data]\n'),
)
const OLD = 'H4sIAAAAAAAAA0tMSgYAwkOtGwMAAAA='
const ANNOTATION: PodAnnotation = { key: KEY, value: VALUE }
const LINE = `${KEY}: ${VALUE}`

const fixture = (name: string): string =>
  readFileSync(new URL(`./__fixtures__/kubernetes/${name}`, import.meta.url), 'utf8')

function run(text: string, annotation: PodAnnotation = ANNOTATION): AnnotatePodTemplatesResult {
  return annotatePodTemplates(text, annotation)
}

function errorOf(fn: () => unknown): InitguardError {
  try {
    fn()
  } catch (e) {
    if (isInitguardError(e)) return e
    throw e
  }
  throw new Error('expected an error')
}

const refusal = (text: string, annotation: PodAnnotation = ANNOTATION): InitguardError =>
  errorOf(() => run(text, annotation))

/** The data of every document, as plain JavaScript. */
function data(text: string): unknown[] {
  const docs = parseAllDocuments(text)
  if ('empty' in docs) return []
  for (const doc of docs) expect(doc.errors).toEqual([])
  return docs.map((doc) => doc.toJS() as unknown)
}

/** Set `key` in the annotations map at `path` (dotted, with `[n]` for items), creating maps. */
function withAnnotation(doc: unknown, path: string, key = KEY, value = VALUE): unknown {
  const segments = path
    .split(/\.|(?=\[)/)
    .map((s) => (s.startsWith('[') ? Number(s.slice(1, -1)) : s))
  let node = doc as Record<string | number, unknown>
  for (const segment of segments) {
    const next = node[segment]
    if (typeof next !== 'object' || next === null) node[segment] = {}
    node = node[segment] as Record<string | number, unknown>
  }
  node[key] = value
  return doc
}

/**
 * Remove the lines that are in `output` but not in `input` (greedy line diff, line endings aside),
 * check that gives back `input` byte for byte, and return the removed lines.
 */
function insertedLines(input: string, output: string, same = (a: string, b: string) => a === b) {
  const inLines = input.split(/\r?\n/)
  const outTokens = output.split(/(\r?\n)/)
  const outLines = outTokens.filter((_, i) => i % 2 === 0)
  const kept: (string | undefined)[] = []
  let i = 0
  for (const line of outLines) {
    const original = inLines[i]
    const match = original !== undefined && same(original, line)
    kept.push(match ? original : undefined)
    if (match) i++
  }
  expect(i).toBe(inLines.length)
  let rebuilt = ''
  let pendingEol = ''
  kept.forEach((line, j) => {
    if (line === undefined) return
    rebuilt += pendingEol + line
    pendingEol = outTokens[2 * j + 1] ?? ''
  })
  expect(rebuilt).toBe(input)
  return outLines.filter((_, j) => kept[j] === undefined)
}

const pod = (metadata: string): string => `apiVersion: v1
kind: Pod
${metadata}spec:
  containers:
  - name: app
    image: busybox
`

describe('annotatePodTemplates: placement', () => {
  it('adds annotations: to a Pod with metadata but no annotations', () => {
    const input = pod('metadata:\n  name: p\n')
    const out = run(input)
    expect(out.text).toBe(pod(`metadata:\n  annotations:\n    ${LINE}\n  name: p\n`))
    expect(out.placements).toEqual([
      {
        document: 1,
        kind: 'Pod',
        name: 'p',
        path: 'metadata.annotations',
        line: 5,
        action: 'inserted',
      },
    ])
    expect(out.skipped).toEqual([])
  })

  it('adds the key first in an existing annotations map, keeping comments after it', () => {
    const input = pod(
      'metadata:\n  name: p\n  annotations:\n    # ours goes first\n    a.example/x: "1"\n',
    )
    const out = run(input)
    expect(out.text).toBe(
      pod(
        `metadata:\n  name: p\n  annotations:\n    ${LINE}\n    # ours goes first\n    a.example/x: "1"\n`,
      ),
    )
    expect(out.placements[0]?.action).toBe('inserted')
    expect(out.placements[0]?.line).toBe(6)
  })

  it.each([
    ['Deployment', 'apps/v1'],
    ['StatefulSet', 'apps/v1'],
    ['DaemonSet', 'apps/v1'],
    ['ReplicaSet', 'apps/v1'],
    ['Job', 'batch/v1'],
    ['ReplicationController', 'v1'],
  ])('annotates spec.template of a %s', (kind, apiVersion) => {
    const input = `apiVersion: ${apiVersion}
kind: ${kind}
metadata:
  name: w
  annotations:
    owner: team-a
spec:
  template:
    metadata:
      labels:
        app: w
    spec:
      containers:
      - name: app
        image: busybox
`
    const out = run(input)
    expect(out.placements).toEqual([
      {
        document: 1,
        kind,
        name: 'w',
        path: 'spec.template.metadata.annotations',
        line: 11,
        action: 'inserted',
      },
    ])
    expect(insertedLines(input, out.text)).toEqual(['      annotations:', `        ${LINE}`])
    // The object's own annotations are not touched.
    const [doc] = data(input)
    expect(data(out.text)).toEqual([withAnnotation(doc, 'spec.template.metadata.annotations')])
  })

  it('annotates spec.jobTemplate.spec.template of a CronJob', () => {
    const input = `apiVersion: batch/v1
kind: CronJob
metadata:
  name: c
spec:
  schedule: "*/5 * * * *"
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
          - name: app
            image: busybox
`
    const out = run(input)
    expect(out.placements[0]?.path).toBe('spec.jobTemplate.spec.template.metadata.annotations')
    expect(insertedLines(input, out.text)).toEqual([
      '        metadata:',
      '          annotations:',
      `            ${LINE}`,
    ])
  })

  it('recurses into the items of a List and reports what it skipped', () => {
    const input = `apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata:
    name: s
- apiVersion: apps/v1
  kind: Deployment
  metadata:
    name: d
  spec:
    template:
      metadata:
        labels: {}
      spec: {}
- apiVersion: v1
  kind: Pod
  spec:
    containers: []
`
    const out = run(input)
    expect(out.placements.map((p) => [p.kind, p.path, p.action])).toEqual([
      ['Deployment', 'items[1].spec.template.metadata.annotations', 'inserted'],
      ['Pod', 'items[2].metadata.annotations', 'inserted'],
    ])
    expect(out.skipped).toEqual([
      {
        document: 1,
        kind: 'Service',
        path: 'items[0]',
        reason: 'kind Service has no pod template',
      },
    ])
    // A List item's first key shares the `- ` line: the new entry goes before its second key.
    expect(out.text).toContain(
      `- apiVersion: v1\n  metadata:\n    annotations:\n      ${LINE}\n  kind: Pod\n`,
    )
    const [doc] = data(input)
    withAnnotation(doc, 'items[1].spec.template.metadata.annotations')
    withAnnotation(doc, 'items[2].metadata.annotations')
    expect(data(out.text)).toEqual([doc])
  })

  it('handles typed lists whose items have no kind', () => {
    const input = `apiVersion: apps/v1
kind: DeploymentList
items:
  - metadata:
      name: a
    spec:
      template:
        metadata:
          name: x
`
    const out = run(input)
    expect(out.placements).toMatchObject([
      { kind: 'Deployment', name: 'a', path: 'items[0].spec.template.metadata.annotations' },
    ])
  })

  it('keeps a multi-document file byte for byte apart from the inserted lines', () => {
    const input = fixture('multi-document.yaml.txt')
    const out = run(input, {
      key: KEY,
      value:
        'H4sIAAAAAAAAAytLLSrOzM9TslIy1DPQM9AzUNJRyi9KzUtOVbJSSkksSdRLyUzJTM9MSS0uyczPKy4BAMHSKZkzAAAA',
    })
    expect(out.text).toBe(fixture('multi-document.annotated.yaml.txt'))
    expect(out.placements.map((p) => [p.document, p.kind, p.action, p.line])).toEqual([
      [3, 'Deployment', 'inserted', 47],
      [4, 'StatefulSet', 'inserted', 69],
      [5, 'Job', 'inserted', 89],
      [6, 'CronJob', 'inserted', 107],
    ])
    expect(out.skipped).toEqual([
      { document: 1, kind: 'Service', reason: 'kind Service has no pod template' },
      { document: 2, kind: 'ConfigMap', reason: 'kind ConfigMap has no pod template' },
    ])
  })

  it('uses CRLF for the inserted lines of a CRLF file', () => {
    const input = pod('metadata:\n  name: p\n').replace(/\n/g, '\r\n')
    const out = run(input)
    expect(out.text).toBe(
      pod(`metadata:\n  annotations:\n    ${LINE}\n  name: p\n`).replace(/\n/g, '\r\n'),
    )
    expect(out.text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/)
  })

  it('keeps a missing final newline, also when inserting at the very end', () => {
    const input = 'apiVersion: v1\nkind: Pod\nspec: {}\nmetadata:\n  name: p\n  annotations:'
    const out = run(input)
    expect(out.text).toBe(`${input}\n    ${LINE}`)
    const crlf = 'kind: Pod\r\nmetadata:\r\n  annotations:'
    expect(run(crlf).text).toBe(`${crlf}\r\n    ${LINE}`)
    const middle = 'kind: Pod\nmetadata:\n  name: p\nspec: {}'
    expect(run(middle).text).toBe(
      `kind: Pod\nmetadata:\n  annotations:\n    ${LINE}\n  name: p\nspec: {}`,
    )
  })

  it('follows the indentation step of the document', () => {
    const input = `apiVersion: apps/v1
kind: Deployment
metadata:
    name: d
spec:
    template:
        spec:
            containers:
                -   name: app
                    image: busybox
`
    const out = run(input)
    expect(insertedLines(input, out.text)).toEqual([
      '        metadata:',
      '            annotations:',
      `                ${LINE}`,
    ])
  })

  it.each([
    ['flush', 'containers:\n      - name: app\n        image: busybox\n'],
    ['indented', 'containers:\n        - name: app\n          image: busybox\n'],
  ])('is not confused by %s sequence indentation', (_, containers) => {
    const input = `kind: Deployment
spec:
  template:
    metadata:
      name: x
    spec:
      ${containers}`
    const out = run(input)
    expect(insertedLines(input, out.text)).toEqual(['      annotations:', `        ${LINE}`])
  })

  it('leaves an annotation that already has the value unchanged', () => {
    for (const written of [VALUE, `"${VALUE}"`, `'${VALUE}'`]) {
      const input = pod(`metadata:\n  annotations:\n    ${KEY}: ${written}  # set before\n`)
      const out = run(input)
      expect(out.text).toBe(input)
      expect(out.placements).toEqual([
        { document: 1, kind: 'Pod', path: 'metadata.annotations', line: 5, action: 'unchanged' },
      ])
    }
  })

  it('replaces only the text of a different value', () => {
    for (const written of [OLD, `"${OLD}"`, `'${OLD}'`, 'null', '']) {
      const input = pod(
        `metadata:\n  annotations:\n    a: b\n    ${KEY}: ${written}  # old\n    c: d\n`,
      )
      const out = run(input)
      expect(out.text).toBe(
        input.replace(`${KEY}: ${written}`, `${KEY}: ${written === '' ? `${VALUE} ` : VALUE}`),
      )
      expect(out.placements[0]?.action).toBe('replaced')
      expect(out.placements[0]?.line).toBe(6)
    }
    const folded = pod(`metadata:\n  annotations:\n    ${KEY}: H4sI\n      AAAA\n    c: d\n`)
    expect(run(folded).text).toBe(
      pod(`metadata:\n  annotations:\n    ${KEY}: ${VALUE}\n    c: d\n`),
    )
    const empty = pod(`metadata:\n  annotations:\n    ${KEY}:\n`)
    expect(run(empty).text).toBe(pod(`metadata:\n  annotations:\n    ${KEY}: ${VALUE}\n`))
  })

  it('adds metadata to a pod template (or Pod) that has none', () => {
    const input = `kind: Job
spec:
  template:
    # the pod
    spec:
      containers: []
`
    expect(run(input).text).toBe(`kind: Job
spec:
  template:
    metadata:
      annotations:
        ${LINE}
    # the pod
    spec:
      containers: []
`)
    const bare = '# a pod\napiVersion: v1\nkind: Pod\nspec: {}\n'
    expect(run(bare).text).toBe(
      `# a pod\nmetadata:\n  annotations:\n    ${LINE}\napiVersion: v1\nkind: Pod\nspec: {}\n`,
    )
  })

  it('fills an empty metadata: or annotations:', () => {
    expect(run(pod('metadata:\n')).text).toBe(pod(`metadata:\n  annotations:\n    ${LINE}\n`))
    expect(run(pod('metadata:  # none yet\n')).text).toBe(
      pod(`metadata:  # none yet\n  annotations:\n    ${LINE}\n`),
    )
    expect(run(pod('metadata:\n  annotations:\n  name: p\n')).text).toBe(
      pod(`metadata:\n  annotations:\n    ${LINE}\n  name: p\n`),
    )
    expect(run(pod('metadata:\n  annotations: # later\n  # really\n  name: p\n')).text).toBe(
      pod(`metadata:\n  annotations: # later\n    ${LINE}\n  # really\n  name: p\n`),
    )
  })

  it('finds quoted keys', () => {
    const input = `"apiVersion": "apps/v1"
'kind': "Deployment"
"spec":
  'template':
    "metadata":
      "annotations":
        "a": "b"
`
    const out = run(input)
    expect(insertedLines(input, out.text)).toEqual([`        ${LINE}`])
    expect(out.placements[0]?.kind).toBe('Deployment')
  })

  it('quotes a key or value that YAML 1.1 or 1.2 would not read as a string', () => {
    const out = run(pod('metadata:\n  name: p\n'), { key: 'on', value: '1234' })
    expect(out.text).toContain('  annotations:\n    "on": "1234"\n')
    expect(run(pod('metadata:\n'), { key: 'yes', value: '0x12' }).text).toContain('"yes": "0x12"')
    expect(run(pod('metadata:\n'), { key: 'a.b/c_d-e', value: 'H4sI+/==' }).text).toContain(
      'a.b/c_d-e: H4sI+/==',
    )
  })

  it('copes with a byte-order mark and counts CRLF lines right', () => {
    const bom = '\uFEFFapiVersion: v1\nkind: Pod\nspec: {}\n'
    expect(run(bom).text).toBe(
      `\uFEFFapiVersion: v1\nmetadata:\n  annotations:\n    ${LINE}\nkind: Pod\nspec: {}\n`,
    )
    const crlf = `kind: Service\r\n---\r\n${pod('metadata:\n  name: p\n').replace(/\n/g, '\r\n')}`
    expect(run(crlf).placements[0]).toMatchObject({ document: 2, line: 7 })
  })

  it('writes nothing to the console or process warnings', () => {
    const warn = vi.spyOn(console, 'warn')
    const emit = vi.spyOn(process, 'emitWarning')
    try {
      run(`${pod('metadata:\n')}  ? {a: b}\n  : complex key\n  ? [x]\n  : y\n`)
      expect(warn).not.toHaveBeenCalled()
      expect(emit).not.toHaveBeenCalled()
    } finally {
      warn.mockRestore()
      emit.mockRestore()
    }
  })

  it('skips other kinds, other API groups and empty documents', () => {
    const input = `---
# nothing
---
apiVersion: batch.volcano.sh/v1alpha1
kind: Job
spec:
  tasks: []
---
kind: ConfigMap
---
{"kind": "Service", "apiVersion": "v1"}
---
metadata: {}
---
kind: [x]
---
${pod('metadata:\n')}`
    const out = run(input)
    expect(out.skipped).toEqual([
      { document: 1, reason: 'empty document' },
      {
        document: 2,
        kind: 'Job',
        reason:
          'apiVersion batch.volcano.sh/v1alpha1 is not the Kubernetes API group of Job, so this is some other Job',
      },
      { document: 3, kind: 'ConfigMap', reason: 'kind ConfigMap has no pod template' },
      { document: 4, kind: 'Service', reason: 'kind Service has no pod template' },
      { document: 5, reason: 'no kind: not a Kubernetes object' },
      { document: 6, reason: 'kind is not a string' },
    ])
    expect(out.placements.map((p) => p.document)).toEqual([7])
  })
})

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
    ['metadata: {}', deployment('  template:\n    metadata: {}\n'), 'ERR_K8S_FLOW_STYLE', 8],
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
    expect(refusal('kind: Pod\nmetadata: {}\nspec:\n  x: *nowhere\n').code).toBe(
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

// ---------------------------------------------------------------------------------------------
// Property tests

type Value = string | null | YMap | YSeq
interface YMap {
  readonly map: readonly { key: string; text: string; value: Value; comment: string | null }[]
}
interface YSeq {
  readonly seq: readonly YMap[]
}

interface Style {
  readonly step: number
  readonly seqIndent: boolean
  readonly comments: readonly (string | null)[]
}

/** Render a block map at `indent`, with `first` (e.g. `- `) in front of its first key. */
function render(node: YMap, indent: number, style: Style, out: string[], first = ''): void {
  let n = 0
  const comment = (): string | null =>
    style.comments[n++ % Math.max(1, style.comments.length)] ?? null
  node.map.forEach((entry, index) => {
    const pad = index === 0 && first !== '' ? first : ' '.repeat(indent)
    const before = comment()
    if (before !== null && (index > 0 || first === '')) out.push(`${' '.repeat(indent)}# ${before}`)
    const tail = entry.comment === null ? '' : `  # ${entry.comment}`
    const { value } = entry
    if (value === null) out.push(`${pad}${entry.text}:${tail}`)
    else if (typeof value === 'string') out.push(`${pad}${entry.text}: ${value}${tail}`)
    else if ('map' in value) {
      out.push(`${pad}${entry.text}:${tail}`)
      render(value, indent + style.step, style, out)
    } else {
      out.push(`${pad}${entry.text}:${tail}`)
      const at = style.seqIndent ? indent + style.step : indent
      for (const item of value.seq) render(item, at + 2, style, out, `${' '.repeat(at)}- `)
    }
  })
}

const KINDS = [
  ['Pod', 'v1', ''],
  ['Deployment', 'apps/v1', 'spec.template.'],
  ['StatefulSet', 'apps/v1', 'spec.template.'],
  ['DaemonSet', 'apps/v1', 'spec.template.'],
  ['ReplicaSet', 'apps/v1', 'spec.template.'],
  ['Job', 'batch/v1', 'spec.template.'],
  ['ReplicationController', 'v1', 'spec.template.'],
  ['CronJob', 'batch/v1', 'spec.jobTemplate.spec.template.'],
] as const

type MetadataState =
  'absent' | 'empty' | 'labels' | 'empty-annotations' | 'other' | 'same' | 'different'

const name = fc.stringMatching(/^[a-z][a-z0-9-]{0,10}[a-z0-9]$/)
const words = fc.stringMatching(/^[a-z][a-z ]{0,12}$/)
const quoted = (key: string): fc.Arbitrary<string> => fc.constantFrom(key, `"${key}"`, `'${key}'`)
const extras = fc.uniqueArray(
  fc.record({
    key: fc.constantFrom(
      'restartPolicy',
      'hostNetwork',
      'priority',
      'x-extra',
      'serviceAccountName',
    ),
    value: fc.constantFrom('Always', 'false', '3', '"quoted value"', "'single'", 'plain text'),
  }),
  { selector: (e) => e.key, maxLength: 3 },
)

interface GeneratedDoc {
  readonly text: string
  readonly kind: string | null
  readonly path: string
  readonly state: MetadataState
}

const entry = (key: string, text: string, value: Value, comment: string | null = null) => ({
  key,
  text,
  value,
  comment,
})

const workload = fc
  .record({
    kind: fc.constantFrom(...KINDS),
    name,
    state: fc.constantFrom<MetadataState>(
      'absent',
      'empty',
      'labels',
      'empty-annotations',
      'other',
      'same',
      'different',
    ),
    metadataKey: quoted('metadata'),
    annotationsKey: quoted('annotations'),
    templateKey: quoted('template'),
    extras,
    podExtras: extras,
    trailing: fc.option(words, { nil: null }),
    metaFirst: fc.boolean(),
    style: fc.record({
      step: fc.integer({ min: 1, max: 5 }),
      seqIndent: fc.boolean(),
      comments: fc.array(fc.option(words, { nil: null }), { maxLength: 5 }),
    }),
  })
  .map(({ kind: [kind, apiVersion, prefix], name: n, state, style, ...o }): GeneratedDoc => {
    const annotations: Value =
      state === 'empty-annotations'
        ? null
        : state === 'other'
          ? { map: [entry('example.com/x', 'example.com/x', '"1"')] }
          : state === 'same'
            ? { map: [entry('a', 'a', 'b'), entry(KEY, KEY, VALUE, o.trailing)] }
            : { map: [entry(KEY, `"${KEY}"`, OLD), entry('z', 'z', 'y')] }
    const labels = entry('labels', 'labels', { map: [entry('app', 'app', n)] }, o.trailing)
    const metadata: Value =
      state === 'empty'
        ? null
        : state === 'labels'
          ? { map: [labels] }
          : { map: [labels, entry('annotations', o.annotationsKey, annotations)] }
    const containers: YSeq = {
      seq: [
        { map: [entry('name', 'name', n), entry('image', 'image', 'busybox:1')] },
        { map: [entry('name', 'name', 'side'), entry('args', 'args', '[\'a\', "b"]')] },
      ],
    }
    const podSpec: YMap = {
      map: [
        entry('containers', 'containers', containers),
        ...o.podExtras.map((e) => entry(e.key, e.key, e.value)),
      ],
    }
    const template: YMap = {
      map:
        state === 'absent'
          ? [entry('spec', 'spec', podSpec)]
          : o.metaFirst
            ? [entry('metadata', o.metadataKey, metadata), entry('spec', 'spec', podSpec)]
            : [entry('spec', 'spec', podSpec), entry('metadata', o.metadataKey, metadata)],
    }
    const head = [
      entry('apiVersion', 'apiVersion', apiVersion),
      entry('kind', 'kind', kind, o.trailing),
    ]
    let root: YMap
    if (kind === 'Pod') root = { map: [...head, ...template.map] }
    else {
      const jobSpec: YMap = { map: [entry('template', o.templateKey, template)] }
      const spec: YMap =
        kind === 'CronJob'
          ? {
              map: [
                entry('schedule', 'schedule', '"0 * * * *"'),
                entry('jobTemplate', 'jobTemplate', { map: [entry('spec', 'spec', jobSpec)] }),
              ],
            }
          : {
              map: [
                ...o.extras.map((e) => entry(e.key, e.key, e.value)),
                entry('template', o.templateKey, template),
              ],
            }
      root = {
        map: [
          ...head,
          entry('metadata', 'metadata', { map: [entry('name', 'name', n)] }),
          entry('spec', 'spec', spec),
        ],
      }
    }
    const out: string[] = []
    render(root, 0, style, out)
    return { text: out.join('\n'), kind, path: `${prefix}metadata.annotations`, state }
  })

const service = name.map((n): GeneratedDoc => ({
  text: `apiVersion: v1\nkind: Service\nmetadata:\n  name: ${n}  # the service\nspec:\n  ports:\n  - port: 80`,
  kind: null,
  path: '',
  state: 'absent',
}))

const stream = fc
  .record({
    docs: fc.array(
      fc.oneof({ weight: 3, arbitrary: workload }, { weight: 1, arbitrary: service }),
      {
        minLength: 1,
        maxLength: 4,
      },
    ),
    separators: fc.array(fc.constantFrom('---', '---  # next', '...\n---', '\n---'), {
      minLength: 4,
      maxLength: 4,
    }),
    leading: fc.constantFrom('', '---\n', '# generated\n', '# generated\n---\n'),
    finalNewline: fc.boolean(),
    crlf: fc.boolean(),
  })
  .map(({ docs, separators, leading, finalNewline, crlf }) => {
    let text: string = leading
    docs.forEach((doc, i) => {
      text += i === 0 ? doc.text : `\n${separators[i] ?? '---'}\n${doc.text}`
    })
    if (finalNewline) text += '\n'
    if (crlf) text = text.replace(/\n/g, '\r\n')
    return { text, docs }
  })

describe('annotatePodTemplates: properties', () => {
  it('adds exactly the annotation, and removing the inserted lines gives back the input', () => {
    fc.assert(
      fc.property(stream, ({ text, docs }) => {
        const workloads = docs.filter((d) => d.kind !== null)
        if (workloads.length === 0) {
          expect(refusal(text).code).toBe('ERR_K8S_NO_POD_TEMPLATE')
          return
        }
        const out = run(text)
        const expected = data(text)
        let w = 0
        docs.forEach((doc, i) => {
          if (doc.kind === null) return
          const placement = out.placements[w++]
          expect(placement).toMatchObject({ document: i + 1, kind: doc.kind, path: doc.path })
          expect(placement?.action).toBe(
            doc.state === 'same'
              ? 'unchanged'
              : doc.state === 'different'
                ? 'replaced'
                : 'inserted',
          )
          withAnnotation(expected[i], doc.path)
          const line = out.text.split('\n')[(placement?.line ?? 0) - 1] ?? ''
          expect(line).toMatch(
            new RegExp(`^ +"?${KEY.replace(/\./g, '\\.')}"?: ${VALUE.replace(/[+/]/g, '\\$&')}`),
          )
        })
        expect(out.placements).toHaveLength(workloads.length)
        expect(data(out.text)).toEqual(expected)
        const removed = insertedLines(
          text,
          out.text,
          (a, b) => a === b || a === b.replace(VALUE, OLD),
        )
        const inserted = docs.filter(
          (d) => d.kind !== null && d.state !== 'same' && d.state !== 'different',
        )
        expect(removed.filter((l) => l.trim() === LINE)).toHaveLength(inserted.length)
        for (const l of removed) expect(['metadata:', 'annotations:', LINE]).toContain(l.trim())
      }),
      { numRuns: 300 },
    )
  })

  it('throws nothing but an InitguardError, and never fails its own check, on arbitrary text', () => {
    const alphabet = fc.constantFrom(
      ...Array.from('abk: \n\r\t-#{}[],&*!|>\'"?%@`~.0123456789'),
      'kind: Pod\n',
      'kind: Deployment\n',
      'kind: List\n',
      'items:\n',
      'metadata:',
      'annotations:',
      'spec:',
      'template:',
      '  ',
      '---\n',
      '...\n',
      '<<: ',
      '- ',
    )
    const check = (text: string): void => {
      try {
        run(text)
      } catch (e) {
        expect(isInitguardError(e)).toBe(true)
        expect((e as InitguardError).category).not.toBe('internal')
      }
    }
    fc.assert(fc.property(fc.string({ unit: alphabet, maxLength: 60 }), check), { numRuns: 2000 })
    fc.assert(fc.property(fc.string(), check), { numRuns: 300 })
    fc.assert(
      fc.property(
        stream,
        fc.array(fc.tuple(fc.nat(), fc.nat(3), fc.string({ unit: alphabet, maxLength: 3 })), {
          minLength: 1,
          maxLength: 4,
        }),
        ({ text }, mutations) => {
          let mutated = text
          for (const [at, drop, insert] of mutations) {
            const i = at % (mutated.length + 1)
            mutated = mutated.slice(0, i) + insert + mutated.slice(i + drop)
          }
          check(mutated)
        },
      ),
      { numRuns: 1000 },
    )
  })
})

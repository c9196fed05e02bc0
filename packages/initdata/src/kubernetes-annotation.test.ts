import { readFileSync } from 'node:fs'
import { describe, expect, it, vi } from 'vitest'
import {
  KEY,
  OLD,
  VALUE,
  data,
  insertedLines,
  pod,
  run,
  withAnnotation,
} from './kubernetes-annotation-test-support.ts'

/** The annotation's line, without indentation. */
const LINE = `${KEY}: ${VALUE}`

const fixture = (name: string): string =>
  readFileSync(new URL(`./__fixtures__/kubernetes/${name}`, import.meta.url), 'utf8')

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

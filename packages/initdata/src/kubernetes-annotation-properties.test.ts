import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { isInitguardError } from '@initguard/core'
import type { InitguardError } from '@initguard/core'
import {
  KEY,
  OLD,
  VALUE,
  data,
  insertedLines,
  refusal,
  run,
  withAnnotation,
} from './kubernetes-annotation-test-support.ts'

/** The annotation's line, without indentation. */
const LINE = `${KEY}: ${VALUE}`

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

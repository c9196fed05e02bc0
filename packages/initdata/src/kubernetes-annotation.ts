/**
 * Add a pod annotation (in practice the Kata initdata annotation,
 * `io.katacontainers.config.hypervisor.cc_init_data`) to every pod template of a multi-document
 * Kubernetes YAML file, by editing the text in place.
 *
 * Nothing is re-serialised: the file is parsed with `yaml` only to find source offsets, and the
 * output is the input with whole lines inserted (or, for an annotation already present with another
 * value, that one value's text replaced). Comments, key order, quoting, blank lines, `---`/`...`
 * markers, line endings and a missing final newline all stay as they were.
 *
 * Where the annotation goes (the pod template's `metadata.annotations`):
 *
 * - `Pod`: the object itself;
 * - `Deployment`, `StatefulSet`, `DaemonSet`, `ReplicaSet`, `Job`, `ReplicationController`:
 *   `spec.template`;
 * - `CronJob`: `spec.jobTemplate.spec.template`;
 * - `List`, and typed lists such as `DeploymentList`: each of `items`.
 *
 * Other kinds, and built-in kind names in another API group (a Volcano `Job`, say), are skipped.
 *
 * New keys go first in their map, each on its own line: right after the line of the parent key
 * (`metadata:`, `annotations:`, `template:`), or, for a map with no parent key (a `Pod` document or
 * `List` item without `metadata`), before its first key that starts a line. Indentation follows the
 * document's own step (2 when it has no nested map), line endings the neighbouring line.
 *
 * An empty flow map (`metadata: {}`, `annotations: {}`, as Helm and kubectl write them) is replaced
 * by the block entries on the following lines; a flow map with entries is refused.
 *
 * Anything that cannot be edited safely in place (flow style, anchors, aliases, merge keys, tags, a
 * missing template, …) is refused with a {@link MalformedInputError}. The result is re-parsed and
 * checked (same data plus exactly the annotation; removing the edits gives back the input) before it
 * is returned; a failed check is an {@link InternalError}, never a wrong result.
 *
 * The steps live beside this file: reading the YAML (`kubernetes-annotation-yaml-source.ts`),
 * checking the annotation (`-validation.ts`), finding the pod templates (`-pod-templates.ts`),
 * refusing what cannot be edited in place (`-refusals.ts`), the line edits (`-line-edits.ts`) and
 * the self-check (`-self-check.ts`), sharing their working state (`-context.ts`).
 *
 * @module
 */
import { LineCounter, isMap, isScalar } from 'yaml'
import { InternalError, MalformedInputError, isInitguardError } from '@initguard/core'
import { BUG_HINT } from './kubernetes-annotation-context.ts'
import type { AnnotateContext, Edit, PodTemplateTarget } from './kubernetes-annotation-context.ts'
import { applyEdits } from './kubernetes-annotation-line-edits.ts'
import { WORKLOAD_NAMES, visitObject } from './kubernetes-annotation-pod-templates.ts'
import { malformed } from './kubernetes-annotation-refusals.ts'
import { resolveInput, selfCheck, setAnnotation } from './kubernetes-annotation-self-check.ts'
import { checkAnnotation } from './kubernetes-annotation-validation.ts'
import {
  checkLineEndings,
  describeNode,
  detectStep,
  parseStream,
  rangeOf,
} from './kubernetes-annotation-yaml-source.ts'

/** The annotation to add. */
export interface PodAnnotation {
  /** A Kubernetes annotation key: optional DNS-subdomain prefix and `/`, then a name. */
  readonly key: string
  /** The value: base64 characters only (`A-Z a-z 0-9 + / =`). */
  readonly value: string
}

/** What was done at one pod template. */
export type PlacementAction = 'inserted' | 'replaced' | 'unchanged'

/** One pod template and what happened to its annotation. */
export interface AnnotationPlacement {
  /** 1-based number of the YAML document in the file. */
  readonly document: number
  /** The object's kind (`Pod`, `Deployment`, …). */
  readonly kind: string
  /** The object's `metadata.name`, when it has one. */
  readonly name?: string
  /** Path of the annotations map in the document, e.g. `spec.template.metadata.annotations`. */
  readonly path: string
  /** 1-based line of the annotation key in the output text. */
  readonly line: number
  /** `inserted`: the key was added; `replaced`: it had another value; `unchanged`: already set. */
  readonly action: PlacementAction
}

/** A document (or `List` item) that has no pod template and was left alone. */
export interface SkippedDocument {
  /** 1-based number of the YAML document in the file. */
  readonly document: number
  /** The object's kind, when it has one. */
  readonly kind?: string
  /** Path of the object inside the document, for `List` items (e.g. `items[2]`). */
  readonly path?: string
  /** Why it was skipped. */
  readonly reason: string
}

/** Result of {@link annotatePodTemplates}. */
export interface AnnotatePodTemplatesResult {
  /** The edited file. */
  readonly text: string
  /** Every pod template, in file order. */
  readonly placements: readonly AnnotationPlacement[]
  /** Documents and `List` items without a pod template. */
  readonly skipped: readonly SkippedDocument[]
}

/**
 * Add `annotation` to every pod template in `text`, a multi-document Kubernetes YAML file.
 *
 * @returns the edited text, where each pod template's annotation went, and what was skipped.
 * @throws {@link UsageError} `ERR_K8S_ANNOTATION_KEY_INVALID`, `ERR_K8S_ANNOTATION_VALUE_INVALID`,
 *   `ERR_K8S_ANNOTATION_TOO_LARGE`.
 * @throws {@link MalformedInputError} `ERR_K8S_YAML_INVALID`, `ERR_K8S_LINE_ENDING`,
 *   `ERR_K8S_ROOT_NOT_MAP`, `ERR_K8S_TEMPLATE_MISSING`, `ERR_K8S_NOT_A_MAP`,
 *   `ERR_K8S_NOT_A_SEQUENCE`, `ERR_K8S_FLOW_STYLE`, `ERR_K8S_ALIAS`, `ERR_K8S_MERGE_KEY`,
 *   `ERR_K8S_TAG`, `ERR_K8S_ANNOTATION_NOT_STRING`, `ERR_K8S_LAYOUT_UNSUPPORTED`,
 *   `ERR_K8S_TOO_DEEP`, `ERR_K8S_NO_POD_TEMPLATE`.
 * @throws {@link ExpectationError} `ERR_K8S_ANNOTATIONS_TOTAL_TOO_LARGE`.
 * @throws {@link InternalError} `ERR_K8S_SELF_CHECK` when the result fails its own check.
 */
export function annotatePodTemplates(
  text: string,
  annotation: PodAnnotation,
): AnnotatePodTemplatesResult {
  try {
    return annotate(text, annotation)
  } catch (e) {
    if (isInitguardError(e)) throw e
    throw new InternalError(
      'ERR_K8S_INTERNAL',
      'unexpected failure while adding the pod annotation; no output was produced',
      { cause: e, hint: BUG_HINT },
    )
  }
}

function annotate(text: string, annotation: PodAnnotation): AnnotatePodTemplatesResult {
  const { keyLine, valueText } = checkAnnotation(annotation)
  checkLineEndings(text)
  const lines = new LineCounter()
  const docs = parseStream(text, lines)
  const edits: Edit[] = []
  const targets: PodTemplateTarget[] = []
  const skipped: SkippedDocument[] = []
  docs.forEach((doc, docIndex) => {
    const root = doc.contents
    if (root === null || (isScalar(root) && root.value === null && root.source === '')) {
      skipped.push({ document: docIndex + 1, reason: 'empty document' })
      return
    }
    const ctx: AnnotateContext = {
      text,
      lines,
      docIndex,
      step: detectStep(text, root),
      annotation,
      keyLine,
      valueText,
      edits,
      targets,
      skipped,
    }
    if (!isMap(root)) {
      throw malformed(
        ctx,
        'ERR_K8S_ROOT_NOT_MAP',
        { kind: undefined, name: undefined },
        [],
        rangeOf(root)[0],
        `is ${describeNode(root)}, not a Kubernetes object (a map with apiVersion and kind)`,
        'each document of a manifest must be one object; remove or fix this document',
      )
    }
    visitObject(ctx, root, [], undefined, false)
  })
  if (targets.length === 0) {
    throw new MalformedInputError(
      'ERR_K8S_NO_POD_TEMPLATE',
      `the input has no pod template: none of its ${docs.length} document(s) is a ${WORKLOAD_NAMES}`,
      {
        details: { documents: docs.length, skipped: skipped.length },
        hint: 'give the manifest that defines the pods (Services, ConfigMaps and the like carry no pod template)',
      },
    )
  }
  const expected = new Map<number, unknown>()
  for (const target of targets) {
    const doc = docs[target.docIndex]
    if (doc === undefined) throw new InternalError('ERR_K8S_INTERNAL', 'lost a document')
    let data = expected.get(target.docIndex)
    if (data === undefined) {
      data = resolveInput(doc, target.docIndex, lines)
      expected.set(target.docIndex, data)
    }
    setAnnotation(data, target.segments, annotation)
  }
  const sorted = [...edits].sort((a, b) => a.start - b.start)
  const output = applyEdits(text, sorted)
  const placements = selfCheck(text, output, sorted, docs, expected, targets, annotation)
  return { text: output, placements, skipped }
}

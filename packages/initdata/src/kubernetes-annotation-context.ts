/**
 * The working state shared by the modules behind `annotatePodTemplates`: the parsed YAML node
 * types used throughout, paths into a document, text edits, the pod templates found, and the
 * context every step reads and appends to.
 *
 * @module
 */
import type { LineCounter, Scalar, YAMLMap } from 'yaml'
import type { PlacementAction, PodAnnotation, SkippedDocument } from './kubernetes-annotation.ts'

/** The hint of every `InternalError`: a failed self-check or an unexpected failure is a bug. */
export const BUG_HINT =
  'this is a bug in Initguard: please report it with the input file (secrets removed); add the annotation by hand meanwhile'

/** One step of a path into a document: a map key or a sequence index. */
export type Segment = string | number

/** A text edit against the input: `lines` inserts whole lines, `inline` edits within one line. */
export interface Edit {
  readonly start: number
  readonly end: number
  readonly text: string
  readonly shape: 'lines' | 'inline'
}

/** A pod template found, before the output exists. */
export interface PodTemplateTarget {
  readonly docIndex: number
  readonly kind: string
  readonly name: string | undefined
  /** Segments of the annotations map. */
  readonly segments: readonly Segment[]
  readonly action: PlacementAction
}

/** What is being worked on, for edits and error messages. */
export interface AnnotateContext {
  readonly text: string
  readonly lines: LineCounter
  readonly docIndex: number
  readonly step: number
  readonly annotation: PodAnnotation
  readonly keyLine: string
  readonly valueText: string
  readonly edits: Edit[]
  readonly targets: PodTemplateTarget[]
  readonly skipped: SkippedDocument[]
}

/** The object being edited (a document root or a `List` item). */
export interface ManifestObject {
  readonly kind: string | undefined
  readonly name: string | undefined
}

/** A block or flow map as parsed, with source ranges. */
export type ParsedMap = YAMLMap.Parsed

/** A scalar key as parsed, with its source range. */
export type ParsedKey = Scalar.Parsed

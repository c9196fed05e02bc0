/**
 * @initguard/initdata/kubernetes: add the Kata initdata annotation to every pod template of a
 * multi-document Kubernetes manifest, touching nothing else. A separate entry point because it
 * loads the YAML parser, which nothing that verifies a document needs.
 *
 * @module
 */
export { annotatePodTemplates } from './kubernetes-annotation.ts'
export { MAX_ANNOTATIONS_SIZE } from './kubernetes-annotation-validation.ts'
export type {
  PodAnnotation,
  PlacementAction,
  AnnotationPlacement,
  SkippedDocument,
  AnnotatePodTemplatesResult,
} from './kubernetes-annotation.ts'

/**
 * @initguard/initdata/kubernetes: add the Kata initdata annotation to every pod template of a
 * multi-document Kubernetes manifest, touching nothing else. A separate entry point because it
 * loads the YAML parser, which nothing that verifies a document needs.
 *
 * @module
 */
export {
  annotatePodTemplates,
  type PodAnnotation,
  type PlacementAction,
  type AnnotationPlacement,
  type SkippedDocument,
  type AnnotatePodTemplatesResult,
} from './kubernetes-annotation.ts'
export { MAX_ANNOTATIONS_SIZE } from './kubernetes-annotation-validation.ts'

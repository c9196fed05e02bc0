/**
 * The Kubernetes manifests against Kubernetes' own OpenAPI schemas, offline: each object through
 * its kind's `validate()` from `kubernetes-models` (JSON schemas generated from the Kubernetes
 * OpenAPI document, compiled with ajv; what `kubectl apply --dry-run=client` checks), and through
 * the same package's TypeScript types, whose excess-property checks refuse a field Kubernetes does
 * not know (the schemas allow unknown fields, and a misspelt `readOnlyRootFilesystem` would
 * otherwise be dropped silently by the API server).
 */
import { describe, expect, it } from 'vitest'
import type { Model } from '@kubernetes-models/base'
import { Deployment } from 'kubernetes-models/apps/v1'
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1'
import { loadKustomized, parseYaml11, type Json } from './deploy-test-support.ts'
import { unknownFields } from './kubernetes-types.ts'

type ModelClass = (new (data: never) => Model<unknown>) & {
  readonly apiVersion: string
  readonly kind: string
}

/** The kinds the manifests may use, each with its model; anything else is refused. */
const MODELS: readonly ModelClass[] = [
  Deployment,
  Service,
  PodDisruptionBudget,
  NetworkPolicy,
  ConfigMap,
  Secret,
  ServiceAccount,
  Namespace,
]

/** The schema errors of `object` (empty when it validates); refuses kinds we do not know. */
function schemaErrors(object: Json): string[] {
  const model = MODELS.find(
    (candidate) =>
      candidate.apiVersion === object['apiVersion'] && candidate.kind === object['kind'],
  )
  if (model === undefined)
    return [`no schema for ${String(object['apiVersion'])} ${String(object['kind'])}`]
  try {
    new model(object as never).validate()
    return []
  } catch (error) {
    return [error instanceof Error ? error.message : String(error)]
  }
}

describe('the Kubernetes manifests', () => {
  it('are exactly the kustomization resources, each a known kind that validates', async () => {
    const kustomized = await loadKustomized()
    expect([...kustomized.resourceFiles].sort()).toEqual(kustomized.filesInDirectory)
    expect(kustomized.manifests.length).toBeGreaterThanOrEqual(kustomized.resourceFiles.length)
    for (const manifest of kustomized.manifests)
      expect(schemaErrors(manifest.object), `${manifest.file}: ${manifest.kind}`).toEqual([])
  })

  it('use no field Kubernetes does not know (the models’ TypeScript types)', async () => {
    const kustomized = await loadKustomized()
    expect(unknownFields(kustomized.manifests)).toEqual([])
  })

  it('the validator refuses what Kubernetes refuses', () => {
    const [deployment] = parseYaml11(
      [
        'apiVersion: apps/v1',
        'kind: Deployment',
        'metadata: {name: x}',
        'spec:',
        '  replicas: two',
        '  selector: {matchLabels: {a: b}}',
        '  template: {spec: {containers: [{name: c, image: i}]}}',
      ].join('\n'),
      'bad.yaml',
    )
    expect(schemaErrors(deployment ?? {})).toEqual(['data/spec/replicas must be integer'])
    expect(schemaErrors({ apiVersion: 'apps/v1', kind: 'StatefulSet' })).toEqual([
      'no schema for apps/v1 StatefulSet',
    ])
    const misspelt = {
      file: 'bad.yaml',
      apiVersion: 'v1',
      kind: 'Service',
      name: 'x',
      object: { apiVersion: 'v1', kind: 'Service', metadata: { name: 'x' }, spec: { prots: [] } },
    }
    expect(unknownFields([misspelt])).toEqual([
      `bad.yaml Service x: Object literal may only specify known properties, and '"prots"' does not exist in type 'IServiceSpec'.`,
    ])
  })
})

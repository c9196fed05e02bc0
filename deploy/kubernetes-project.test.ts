/**
 * What the schemas cannot know about the KBS's manifests: enough replicas and a disruption budget
 * that keeps one, selectors that select the Deployment's pods, the port and probe paths the KBS
 * really serves, every Secret and ConfigMap referenced (and each key) present, the hardening the
 * restricted Pod Security Standard asks for, and a NetworkPolicy that denies by default.
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { AMD_KDS_URL, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL } from '@initguard/collateral'
import { KBS_OPENAPI, POSTGRES_MIGRATION_LOCK_WAIT_MS } from '@initguard/kbs'
import {
  at,
  KUBERNETES_DIR,
  list,
  loadKustomized,
  object,
  REPO_ROOT,
  text,
  theOne,
  type Json,
  type Kustomized,
} from './deploy-test-support.ts'

const kustomized: Kustomized = await loadKustomized()
const deployment = theOne(kustomized, 'Deployment').object
const podSpec = object(at(deployment, 'spec.template.spec'), 'pod spec')
const podLabels = object(at(deployment, 'spec.template.metadata.labels'), 'pod labels')
const containers = list(podSpec['containers'], 'containers').map((c) => object(c, 'container'))
const initContainers = list(podSpec['initContainers'], 'initContainers').map((c) =>
  object(c, 'init container'),
)
const kbs = containers.find((container) => container['name'] === 'kbs') ?? {}

/** Whether `labels` satisfy a `matchLabels` selector (no `matchExpressions` are used here). */
function selects(selector: unknown, labels: Json): boolean {
  const matchLabels = object(object(selector, 'selector')['matchLabels'] ?? selector, 'labels')
  return (
    Object.keys(matchLabels).length > 0 &&
    Object.entries(matchLabels).every(([key, value]) => labels[key] === value)
  )
}

/** The KBS container's port: its number and its name. */
const port = object(list(kbs['ports'], 'ports')[0], 'port')

describe('the Deployment', () => {
  it('runs at least two replicas, spread over nodes, and the PDB always keeps one', () => {
    const replicas = at(deployment, 'spec.replicas') as number
    expect(replicas).toBeGreaterThanOrEqual(2)
    expect(
      list(podSpec['topologySpreadConstraints'], 'spread').map((c) => at(c as Json, 'topologyKey')),
    ).toContain('kubernetes.io/hostname')
    const pdb = object(theOne(kustomized, 'PodDisruptionBudget').object['spec'], 'pdb spec')
    expect(pdb['maxUnavailable']).toBeLessThan(replicas)
    expect(at(deployment, 'spec.strategy.rollingUpdate.maxUnavailable')).toBe(0)
  })

  it('selects its own pods, and so do the Service, PDB, NetworkPolicy and spread rules', () => {
    const selectors: [string, unknown][] = [
      ['Deployment', at(deployment, 'spec.selector')],
      ['Service', at(theOne(kustomized, 'Service').object, 'spec.selector')],
      [
        'PodDisruptionBudget',
        at(theOne(kustomized, 'PodDisruptionBudget').object, 'spec.selector'),
      ],
      ['NetworkPolicy', at(theOne(kustomized, 'NetworkPolicy').object, 'spec.podSelector')],
      ...list(podSpec['topologySpreadConstraints'], 'spread').map((c): [string, unknown] => [
        'topologySpreadConstraints',
        at(c as Json, 'labelSelector'),
      ]),
    ]
    for (const [what, selector] of selectors) expect(selects(selector, podLabels), what).toBe(true)
  })

  it('probes /readyz (the database) for readiness and /healthz for liveness, on the KBS port', () => {
    const paths = object(KBS_OPENAPI['paths'], 'openapi paths')
    const probes = ['readinessProbe', 'livenessProbe', 'startupProbe'].map((probe) =>
      object(at(kbs, `${probe}.httpGet`), probe),
    )
    expect(probes.map((probe) => probe['path'])).toEqual(['/readyz', '/healthz', '/healthz'])
    for (const probe of probes) {
      // The OpenAPI document lists exactly the app's routes (server/routes-service.test.ts).
      expect(object(paths[text(probe['path'], 'path')], 'route')).toHaveProperty('get')
      expect(probe['port']).toBe(port['name'])
      expect(probe['scheme']).toBe('HTTPS')
    }
    // Start-up may wait its turn for another replica's migrations: the probe outlasts that wait.
    const startup = object(at(kbs, 'startupProbe'), 'startupProbe')
    const startupMs = Number(startup['periodSeconds']) * Number(startup['failureThreshold']) * 1000
    expect(startupMs).toBeGreaterThan(POSTGRES_MIGRATION_LOCK_WAIT_MS)
    const service = object(theOne(kustomized, 'Service').object, 'service')
    const servicePort = object(list(at(service, 'spec.ports'), 'ports')[0], 'service port')
    expect(servicePort['targetPort']).toBe(port['name'])
    const policy = object(theOne(kustomized, 'NetworkPolicy').object['spec'], 'policy')
    const ingress = list(policy['ingress'], 'ingress').flatMap((rule) =>
      list(object(rule, 'rule')['ports'], 'ports'),
    )
    expect(ingress).toEqual([{ port: port['name'], protocol: 'TCP' }])
  })

  it('references only Secrets and ConfigMaps (and keys) that the kustomization makes', () => {
    const made = new Map<string, readonly string[]>()
    for (const generated of kustomized.generated)
      made.set(`${generated.kind}/${generated.name}`, generated.keys)
    for (const manifest of kustomized.manifests)
      if (manifest.kind === 'ConfigMap' || manifest.kind === 'Secret')
        made.set(
          `${manifest.kind}/${manifest.name}`,
          Object.keys(object(manifest.object['data'] ?? {}, 'data')),
        )
    const references: { ref: string; key?: string }[] = []
    for (const volume of list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))) {
      const source = (volume['secret'] ?? volume['configMap']) as Json | undefined
      if (source === undefined) continue
      const kind = volume['secret'] === undefined ? 'ConfigMap' : 'Secret'
      const name = text(source['secretName'] ?? source['name'], 'volume source name')
      const items = list(source['items'], 'items').map((item) =>
        text(at(item as Json, 'key'), 'key'),
      )
      references.push(
        { ref: `${kind}/${name}` },
        ...items.map((key) => ({ ref: `${kind}/${name}`, key })),
      )
    }
    for (const container of [...containers, ...initContainers])
      for (const variable of list(container['env'], 'env').map((e) => object(e, 'env'))) {
        const from = variable['valueFrom'] as Json | undefined
        const secret = from?.['secretKeyRef'] as Json | undefined
        const config = from?.['configMapKeyRef'] as Json | undefined
        if (secret !== undefined)
          references.push({
            ref: `Secret/${text(secret['name'], 'name')}`,
            key: text(secret['key'], 'key'),
          })
        if (config !== undefined)
          references.push({
            ref: `ConfigMap/${text(config['name'], 'name')}`,
            key: text(config['key'], 'key'),
          })
      }
    expect(references.length).toBeGreaterThan(0)
    for (const { ref, key } of references) {
      expect(made.has(ref), ref).toBe(true)
      if (key !== undefined) expect(made.get(ref), `${ref} key ${key}`).toContain(key)
    }
  })

  it('gives the KBS container its private keys only as the init container’s owner-only copies', () => {
    // A Secret volume's files are group-readable (fsGroup): a private key mounted from one in the
    // KBS container would sit beside its owner-only copy.
    const volumes = list(podSpec['volumes'], 'volumes').map((v) => object(v, 'volume'))
    const privateKeys = ['master.key', 'tls.key']
    const mounted = list(kbs['volumeMounts'], 'volumeMounts').map((m) => object(m, 'mount'))
    for (const mount of mounted) {
      const volume = volumes.find((v) => v['name'] === mount['name']) ?? {}
      const secret = volume['secret'] as Json | undefined
      if (secret === undefined) continue
      const items = list(secret['items'], 'items').map((i) => text(at(i as Json, 'path'), 'path'))
      const generated = kustomized.generated.find((g) => g.name === secret['secretName'])?.keys
      const files = items.length > 0 ? items : (generated ?? [])
      for (const key of privateKeys)
        expect(files, `${String(mount['name'])} at ${String(mount['mountPath'])}`).not.toContain(
          key,
        )
    }
  })

  it('is hardened: non-root, read-only root, no privilege escalation, no capabilities, seccomp, limits', () => {
    expect(podSpec['securityContext']).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    })
    expect(at(podSpec, 'securityContext.runAsUser')).not.toBe(0)
    expect(podSpec['automountServiceAccountToken']).toBe(false)
    for (const container of [...containers, ...initContainers]) {
      expect(container['securityContext'], String(container['name'])).toMatchObject({
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        privileged: false,
        capabilities: { drop: ['ALL'] },
      })
      expect(at(container, 'securityContext.capabilities')).not.toHaveProperty('add')
      for (const bound of ['requests', 'limits'])
        expect(Object.keys(object(at(container, `resources.${bound}`), bound)).sort()).toEqual([
          'cpu',
          'memory',
        ])
    }
  })
})

describe('the image', () => {
  it('is the one docs/production.md builds: the kustomization names its registry and tag', async () => {
    const guide = await readFile(join(REPO_ROOT, 'docs', 'production.md'), 'utf8')
    const built = /docker build -f deploy\/Containerfile -t (\S+) \./.exec(guide)?.[1]
    expect(built, 'the docker build in docs/production.md').toBeDefined()
    const images = list(kustomized.kustomization['images'], 'images').map((i) => object(i, 'image'))
    expect(images).toHaveLength(1)
    const image = images[0] ?? {}
    const used = list(podSpec['containers'], 'containers')
      .concat(list(podSpec['initContainers'], 'initContainers'))
      .map((c) => at(c as Json, 'image'))
    expect(new Set(used)).toEqual(new Set([image['name']]))
    // What the kubelet pulls once kustomize has set the image: the name and tag built and pushed.
    expect(
      `${text(image['newName'] ?? image['name'], 'newName')}:${text(image['newTag'], 'newTag')}`,
    ).toBe(built)
  })
})

describe('the NetworkPolicy', () => {
  it('governs ingress and egress, and lets out only DNS, PostgreSQL and HTTPS to public addresses', () => {
    const policy = object(theOne(kustomized, 'NetworkPolicy').object['spec'], 'policy')
    expect(policy['policyTypes']).toEqual(['Ingress', 'Egress'])
    const egressPorts = list(policy['egress'], 'egress').map((rule) =>
      list(object(rule, 'rule')['ports'], 'ports').map(
        (p) => `${String(at(p as Json, 'port'))}/${String(at(p as Json, 'protocol'))}`,
      ),
    )
    expect(egressPorts).toEqual([['53/UDP', '53/TCP'], ['5432/TCP'], ['443/TCP']])
    const https = object(list(policy['egress'], 'egress')[2], 'https rule')
    const blocks = list(https['to'], 'to').map((peer) =>
      object(at(peer as Json, 'ipBlock'), 'ipBlock'),
    )
    // The cluster's and the cloud metadata service's addresses stay out of reach.
    expect(blocks.flatMap((block) => list(block['except'], 'except'))).toEqual(
      expect.arrayContaining([
        ...['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '169.254.0.0/16'],
        // IPv6 spellings of IPv4 addresses (NAT64, IPv4-mapped) would reach them too.
        ...['64:ff9b::/96', '::ffff:0:0/96', 'fc00::/7', 'fe80::/10'],
      ]),
    )
  })

  it('names every host the KBS fetches collateral from, where it says how to narrow HTTPS', async () => {
    // An operator who narrows the HTTPS rule to the hosts named must not cut off one the KBS uses:
    // AMD KDS, Intel PCS, and the Intel SGX Root CA's CRL (a host of its own).
    const hosts = [AMD_KDS_URL, INTEL_PCS_URL, INTEL_ROOT_CA_CRL_URL].map(
      (url) => new URL(url).host,
    )
    const manifest = await readFile(join(KUBERNETES_DIR, 'networkpolicy.yaml'), 'utf8')
    const guide = await readFile(join(REPO_ROOT, 'docs', 'production.md'), 'utf8')
    const hardening = guide.slice(guide.indexOf('## Hardening'), guide.indexOf('## What Initguard'))
    for (const host of hosts) {
      expect(manifest, `networkpolicy.yaml names ${host}`).toContain(host)
      expect(hardening, `docs/production.md § Hardening names ${host}`).toContain(host)
    }
  })
})

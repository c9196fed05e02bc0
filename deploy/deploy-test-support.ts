/**
 * Test support for the deployment checks: the Kubernetes manifests as Kubernetes reads them
 * (YAML 1.1, as sigs.k8s.io/yaml does: `0440` is octal there), the kustomization that lists them
 * and generates the Secrets, and small typed readers over the parsed objects.
 */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseAllDocuments } from 'yaml'

/** The repository's root directory. */
export const REPO_ROOT: string = fileURLToPath(new URL('..', import.meta.url))
/** The directory of the Kubernetes manifests. */
export const KUBERNETES_DIR: string = join(REPO_ROOT, 'deploy', 'kubernetes')

/** A parsed JSON-like object. */
export type Json = Readonly<Record<string, unknown>>

/** One Kubernetes object and the file it came from. */
export interface Manifest {
  readonly file: string
  readonly object: Json
  readonly apiVersion: string
  readonly kind: string
  readonly name: string
}

/** A generated Secret or ConfigMap: its name and the keys (file names) it holds. */
export interface Generated {
  readonly kind: 'Secret' | 'ConfigMap'
  readonly name: string
  readonly keys: readonly string[]
}

/** What `kubectl apply -k deploy/kubernetes` would read. */
export interface Kustomized {
  readonly kustomization: Json
  readonly resourceFiles: readonly string[]
  /** The YAML files in the directory other than the kustomization. */
  readonly filesInDirectory: readonly string[]
  readonly manifests: readonly Manifest[]
  readonly generated: readonly Generated[]
}

/** `value` as an object, or a failure naming `where`. */
export function object(value: unknown, where: string): Json {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new Error(`${where}: expected an object, got ${JSON.stringify(value)}`)
  return value as Json
}

/** `value` as a list (absent: empty). */
export function list(value: unknown, where: string): readonly unknown[] {
  if (value === undefined) return []
  if (!Array.isArray(value)) throw new Error(`${where}: expected a list`)
  return value
}

/** `value` as text, or a failure naming `where`. */
export function text(value: unknown, where: string): string {
  if (typeof value !== 'string') throw new Error(`${where}: expected text`)
  return value
}

/** Parse every YAML document of `source` as Kubernetes does (YAML 1.1, errors refused). */
export function parseYaml11(source: string, file: string): Json[] {
  return parseAllDocuments(source, { version: '1.1', prettyErrors: true })
    .map((document) => {
      if (document.errors.length > 0)
        throw new Error(`${file}: ${document.errors.map((e) => e.message).join('; ')}`)
      return document.toJS() as unknown
    })
    .filter((value) => value !== null)
    .map((value) => object(value, file))
}

function generatedOf(kustomization: Json): Generated[] {
  const entries = (key: string, kind: Generated['kind']): Generated[] =>
    list(kustomization[key], key).map((entry, index) => {
      const generator = object(entry, `${key}[${String(index)}]`)
      const keys = [
        ...list(generator['files'], 'files').map((file) => text(file, 'files').split('=')[0] ?? ''),
        ...list(generator['literals'], 'literals').map(
          (literal) => text(literal, 'literals').split('=')[0] ?? '',
        ),
      ]
      return { kind, name: text(generator['name'], `${key}[${String(index)}].name`), keys }
    })
  return [...entries('secretGenerator', 'Secret'), ...entries('configMapGenerator', 'ConfigMap')]
}

/** Read deploy/kubernetes: the kustomization, every resource it lists, and its generators. */
export async function loadKustomized(): Promise<Kustomized> {
  const [kustomization] = parseYaml11(
    await readFile(join(KUBERNETES_DIR, 'kustomization.yaml'), 'utf8'),
    'kustomization.yaml',
  )
  if (kustomization === undefined) throw new Error('kustomization.yaml is empty')
  const resourceFiles = list(kustomization['resources'], 'resources').map((file) =>
    text(file, 'resources'),
  )
  const manifests: Manifest[] = []
  for (const file of resourceFiles) {
    for (const parsed of parseYaml11(await readFile(join(KUBERNETES_DIR, file), 'utf8'), file)) {
      const metadata = object(parsed['metadata'], `${file}: metadata`)
      manifests.push({
        file,
        object: parsed,
        apiVersion: text(parsed['apiVersion'], `${file}: apiVersion`),
        kind: text(parsed['kind'], `${file}: kind`),
        name: text(metadata['name'], `${file}: metadata.name`),
      })
    }
  }
  const filesInDirectory = (await readdir(KUBERNETES_DIR))
    .filter((name) => /\.ya?ml$/.test(name) && name !== 'kustomization.yaml')
    .sort()
  return {
    kustomization,
    resourceFiles,
    filesInDirectory,
    manifests,
    generated: generatedOf(kustomization),
  }
}

/** The one manifest of `kind` (the test fails when there is none or several). */
export function theOne(kustomized: Kustomized, kind: string): Manifest {
  const found = kustomized.manifests.filter((manifest) => manifest.kind === kind)
  if (found.length !== 1 || found[0] === undefined)
    throw new Error(`expected one ${kind}, found ${String(found.length)}`)
  return found[0]
}

/** Follow `path` (dot-separated keys) through nested objects. */
export function at(value: Json, path: string): unknown {
  let current: unknown = value
  for (const key of path.split('.')) current = object(current, path)[key]
  return current
}

/** One Containerfile instruction: its keyword and the rest of its (continued) line. */
export interface Instruction {
  readonly keyword: string
  readonly rest: string
}

/** A Containerfile read into instructions, with its stages and exec-form arguments at hand. */
export interface Containerfile {
  /** Every instruction: comments dropped, `\` continuations joined. */
  readonly all: readonly Instruction[]
  /** Each stage's `FROM` argument and the index of its `FROM` in {@link Containerfile.all}. */
  readonly stages: readonly { readonly index: number; readonly from: string }[]
  /** The instructions of the stage named `name` (`FROM … AS name`). */
  readonly stage: (name: string) => Instruction[]
  /** The instructions of `of` whose keyword is `keyword`. */
  readonly only: (of: readonly Instruction[], keyword: string) => Instruction[]
  /** An exec-form (JSON array) argument list. */
  readonly exec: (rest: string) => string[]
}

/** Read a Containerfile's source (deploy/Containerfile). */
export function containerfile(source: string): Containerfile {
  const all = source
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/)
      return { keyword: keyword.toUpperCase(), rest: rest.join(' ') }
    })
  const froms = all.flatMap((instruction, index) =>
    instruction.keyword === 'FROM' ? [{ index, from: instruction.rest }] : [],
  )
  return {
    all,
    stages: froms,
    stage: (name) => {
      const start = froms.findIndex((s) => s.from.endsWith(` AS ${name}`))
      const next = froms[start + 1]?.index ?? all.length
      return all.slice((froms[start]?.index ?? all.length) + 1, next)
    },
    only: (of, keyword) => of.filter((instruction) => instruction.keyword === keyword),
    exec: (rest) => JSON.parse(rest) as string[],
  }
}

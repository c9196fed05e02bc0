/**
 * Unknown fields in Kubernetes objects, found with the TypeScript types that `kubernetes-models`
 * generates from the Kubernetes OpenAPI document: each object becomes an object literal typed as
 * its kind's interface, and the compiler's excess-property check names every field the schema
 * does not have. The JSON schemas alone allow unknown fields (and the API server drops them),
 * so a misspelt security setting would otherwise pass.
 */
import { join } from 'node:path'
import ts from 'typescript'
import { REPO_ROOT, type Manifest } from './deploy-test-support.ts'

/** Where the generated source pretends to live, so `kubernetes-models` resolves from the root. */
const VIRTUAL_FILE = join(REPO_ROOT, 'deploy', '__kubernetes-manifests__.ts')

/** The TypeScript source that types each manifest as its kind's interface. */
function typedSource(manifests: readonly Manifest[]): string {
  return manifests
    .map(
      (manifest, index) =>
        `import type { I${manifest.kind} as T${String(index)} } from 'kubernetes-models/${manifest.apiVersion}/${manifest.kind}'\n` +
        `export const m${String(index)}: T${String(index)} = ${JSON.stringify(manifest.object, null, 1)}\n`,
    )
    .join('')
}

/**
 * The fields of `manifests` that their kinds do not define (and any other type error), each as
 * `FILE KIND NAME: message`; empty when every field is known.
 */
export function unknownFields(manifests: readonly Manifest[]): string[] {
  const source = typedSource(manifests)
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    types: [],
    skipLibCheck: true,
  }
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (fileName, version, onError, shouldCreate) =>
    fileName === VIRTUAL_FILE
      ? ts.createSourceFile(fileName, source, version)
      : getSourceFile(fileName, version, onError, shouldCreate)
  const fileExists = host.fileExists.bind(host)
  host.fileExists = (fileName) => fileName === VIRTUAL_FILE || fileExists(fileName)
  const program = ts.createProgram([VIRTUAL_FILE], options, host)
  const file = program.getSourceFile(VIRTUAL_FILE)
  const lineOfManifest = (line: number): Manifest | undefined => {
    // Each manifest starts with its import line; the last start at or before `line` owns it.
    const starts = source
      .split('\n')
      .flatMap((text, index) => (text.startsWith('import type') ? [index] : []))
    const owner = starts.filter((start) => start <= line).length - 1
    return manifests[owner]
  }
  return [...program.getSyntacticDiagnostics(file), ...program.getSemanticDiagnostics(file)].map(
    (diagnostic) => {
      const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
      const line =
        diagnostic.file === undefined || diagnostic.start === undefined
          ? -1
          : diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start).line
      const manifest = lineOfManifest(line)
      return manifest === undefined
        ? message
        : `${manifest.file} ${manifest.kind} ${manifest.name}: ${message}`
    },
  )
}

/**
 * The main entry point loads no YAML code: verifiers import `@initguard/initdata` for the binding,
 * and only `@initguard/initdata/kubernetes` (manifest annotation) brings in the YAML parser.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'

const SOURCE = new URL('./', import.meta.url)

/** Every bare module specifier reachable from `entry` through relative imports. */
function packagesReachedFrom(entry: string): Set<string> {
  const seen = new Set<string>()
  const reached = new Set<string>()
  const visit = (file: string): void => {
    if (seen.has(file)) return
    seen.add(file)
    const text = readFileSync(new URL(file, SOURCE), 'utf8')
    for (const [, specifier] of text.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) {
      if (specifier === undefined) continue
      if (specifier.startsWith('./')) visit(specifier.slice(2))
      else reached.add(specifier)
    }
  }
  visit(entry)
  return reached
}

describe('initdata entry points', () => {
  it('the main entry point reaches no YAML parser', () => {
    const reached = packagesReachedFrom('index.ts')
    expect(reached.has('smol-toml')).toBe(true)
    expect(reached.has('yaml')).toBe(false)
  })

  it('the kubernetes entry point is where the YAML parser comes in', () => {
    expect(packagesReachedFrom('kubernetes.ts').has('yaml')).toBe(true)
  })
})

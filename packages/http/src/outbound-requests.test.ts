/**
 * "Every outbound request goes through the one client" stays true: no runtime module outside
 * `packages/http` calls `fetch(`, `http.request`/`https.request`/`.get`, or imports undici or the
 * request functions of `node:http(s)`. Tests and test support may (they play the servers).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const PACKAGES = fileURLToPath(new URL('../../', import.meta.url))
const TEST_FILE = /(\.test|\.bench|-test-support)\.ts$/

/** Ways of making a request other than the one client. */
const OUTBOUND = [
  /(?<![\w.#$])fetch\s*\(/,
  /\bfetchImpl\s*\(/,
  /\bhttps?\d?\.(request|get)\s*\(/,
  /from\s+['"](node:)?https?['"]/,
  /from\s+['"]undici['"]/,
  /\bimport\(\s*['"](node:)?https?['"]\s*\)/,
]

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path)
    return entry.name.endsWith('.ts') && !TEST_FILE.test(entry.name) ? [path] : []
  })
}

/** What a server takes from node:http(s): serving is not making requests. */
const INBOUND_NAMES = new Set([
  'createServer',
  'IncomingMessage',
  'RequestListener',
  'Server',
  'ServerResponse',
])

/**
 * `import { createServer, type Server } from 'node:http'` (or `import type { … }`): only server
 * names imported, under their own names or another (`createServer as createHttpsServer`).
 */
function serverOnlyImport(line: string): boolean {
  const names = /^import\s+(?:type\s+)?\{([^}]*)\}\s*from\s*['"](node:)?https?['"]/.exec(
    line.trim(),
  )?.[1]
  if (names === undefined) return false
  return names
    .split(',')
    .map((name) =>
      name
        .trim()
        .replace(/^type\s+/, '')
        .replace(/\s+as\s+[\w$]+$/, ''),
    )
    .filter((name) => name !== '')
    .every((name) => INBOUND_NAMES.has(name))
}

function offenders(files: readonly string[]): string[] {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        OUTBOUND.some((pattern) => pattern.test(line)) && !serverOnlyImport(line)
          ? [`${relative(PACKAGES, file)}:${i + 1}: ${line.trim()}`]
          : [],
      ),
  )
}

describe('outbound requests', () => {
  it('are made only by packages/http', () => {
    const packages = readdirSync(PACKAGES).filter((name) => name !== 'http')
    const files = packages.flatMap((name) => {
      try {
        return sources(join(PACKAGES, name, 'src'))
      } catch {
        return []
      }
    })
    expect(files.length).toBeGreaterThan(50)
    expect(offenders(files)).toEqual([])
  })

  it('the scan finds what it looks for', () => {
    const lines = [
      'const r = await fetch(url)',
      'await fetchImpl(url, {})',
      'https.request(options)',
      "import { request } from 'node:https'",
      "import { Agent } from 'undici'",
      "const http = await import('node:http')",
    ]
    for (const line of lines)
      expect(
        OUTBOUND.some((p) => p.test(line)),
        line,
      ).toBe(true)
    for (const line of [
      'await client.fetchBlob(x)',
      'this.#fetchToken(h)',
      'const f = options.fetch ?? fetch',
    ])
      expect(
        OUTBOUND.some((p) => p.test(line)),
        line,
      ).toBe(false)
  })

  it('lets a server import what serving needs, and nothing more', () => {
    expect(serverOnlyImport("import { createServer, type Server } from 'node:http'")).toBe(true)
    expect(serverOnlyImport("import { createServer, request } from 'node:http'")).toBe(false)
    expect(serverOnlyImport("import { Agent } from 'node:https'")).toBe(false)
    expect(serverOnlyImport("import type { IncomingMessage, Server } from 'node:http'")).toBe(true)
    expect(serverOnlyImport("import type { Agent } from 'node:https'")).toBe(false)
    expect(serverOnlyImport("import * as http from 'node:http'")).toBe(false)
    // Renamed, a name is still what it is.
    expect(serverOnlyImport("import { createServer as createHttpsServer } from 'node:https'")).toBe(
      true,
    )
    expect(serverOnlyImport("import { request as createServer } from 'node:https'")).toBe(false)
  })
})

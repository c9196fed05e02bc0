import { defineConfig } from 'vitest/config'

// Tests import workspace packages by their source (the `@initguard/source` export condition),
// so no build is needed to run them and coverage maps to the TypeScript files.
export default defineConfig({
  resolve: { conditions: ['@initguard/source', 'node', 'import', 'default'] },
  // Not `import` here: vitest passes these to Node as --conditions, and a forced `import` makes a
  // CommonJS package's require() load its dependency's ES module build (pg → pg-pool breaks).
  ssr: { resolve: { conditions: ['@initguard/source', 'node', 'default'] } },
  test: {
    include: [
      'packages/*/src/**/*.test.ts',
      'packages/*/test/**/*.test.ts',
      'fuzz/**/*.test.ts',
      'bench/**/*.test.ts',
      'deploy/**/*.test.ts',
    ],
    environment: 'node',
    reporters: ['default', './scripts/summary-reporter.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
})

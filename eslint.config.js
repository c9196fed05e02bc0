import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

/** Packages of the pure core layer: bytes, trust material and time in; typed result or coded error out. */
const CORE_PACKAGES = ['core', 'initdata', 'snp', 'tdx', 'image-policy', 'testkit']
/** Packages by layer, lowest first. A package may import only from its own layer or below. */
const ADAPTER_PACKAGES = ['adapters']
const SERVICE_PACKAGES = []
const CLI_PACKAGES = ['cli']

const scoped = (names) => names.map((n) => `@initguard/${n}`)
const filesOf = (names) => names.map((n) => `packages/${n}/src/**/*.ts`)

const IO_MODULES = [
  'fs',
  'fs/promises',
  'net',
  'http',
  'https',
  'http2',
  'child_process',
  'dgram',
  'dns',
  'tls',
  'os',
  'process',
  'worker_threads',
  'cluster',
  'readline',
  'inspector',
  'v8',
  'vm',
]

const restrictedImports = (higher, extra = []) => [
  'error',
  {
    paths: [...extra],
    patterns: [
      ...(higher.length > 0
        ? [
            {
              group: scoped(higher),
              message: 'A lower layer never imports a higher one.',
            },
          ]
        : []),
    ],
  },
]

export default tseslint.config(
  {
    ignores: ['**/dist/**', '**/node_modules/**', 'coverage/**', 'bench/results.json'],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      globals: { ...globals.node },
      parserOptions: {
        project: './tsconfig.check.json',
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true }],
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportAllDeclaration',
          message: 'Export names explicitly (no `export *`).',
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: filesOf(CORE_PACKAGES),
    ignores: ['**/*.test.ts', '**/*.bench.ts', '**/*-test-support.ts'],
    rules: {
      'no-restricted-imports': restrictedImports(
        [...ADAPTER_PACKAGES, ...SERVICE_PACKAGES, ...CLI_PACKAGES],
        IO_MODULES.flatMap((m) => [
          {
            name: m,
            message: 'Core packages are pure: no I/O, environment or clock.',
          },
          {
            name: `node:${m}`,
            message: 'Core packages are pure: no I/O, environment or clock.',
          },
        ]),
      ),
      'no-restricted-globals': [
        'error',
        {
          name: 'process',
          message: 'Core packages are pure: pass configuration in.',
        },
        {
          name: 'fetch',
          message: 'Core packages are pure: network belongs in adapters.',
        },
        { name: 'setTimeout', message: 'Core packages are pure: no timers.' },
        { name: 'setInterval', message: 'Core packages are pure: no timers.' },
        { name: 'performance', message: 'Core packages are pure: no clock.' },
        { name: 'require', message: 'ESM only.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message: 'Core packages are pure: pass `now` in.',
        },
        {
          object: 'Math',
          property: 'random',
          message: 'Core packages are pure: no hidden randomness.',
        },
      ],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'ExportAllDeclaration',
          message: 'Export names explicitly (no `export *`).',
        },
        {
          selector: "NewExpression[callee.name='Date'][arguments.length=0]",
          message: 'Core packages are pure: pass `now` in instead of reading the clock.',
        },
      ],
    },
  },
  {
    files: filesOf(ADAPTER_PACKAGES),
    rules: {
      'no-restricted-imports': restrictedImports([...SERVICE_PACKAGES, ...CLI_PACKAGES]),
    },
  },
  // Services arrive with the KBS and the agent; the rule is here so they start inside it.
  ...(SERVICE_PACKAGES.length === 0
    ? []
    : [
        {
          files: filesOf(SERVICE_PACKAGES),
          rules: { 'no-restricted-imports': restrictedImports(CLI_PACKAGES) },
        },
      ]),
)

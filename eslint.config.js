import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

/**
 * Packages by layer, lowest first. A package may import only from its own layer or below. The core
 * and domain layers are pure (bytes, trust material and time in; typed result or coded error out).
 * Inside the I/O layer, `files` and `http` sit below the clients that use them.
 */
const CORE_PACKAGES = ['core']
const DOMAIN_PACKAGES = ['initdata', 'snp', 'tdx', 'image-policy']
const TRANSPORT_PACKAGES = ['files', 'http']
const IO_PACKAGES = ['collateral', 'oci', 'tee-simulator', 'kbs-protocol', 'tee']
const SERVICE_PACKAGES = ['kbs', 'agent']
const CLI_PACKAGES = ['cli']
/** For tests only: no runtime module of any package may import it. */
const TEST_ONLY_PACKAGES = ['testkit']
const PURE_PACKAGES = [...CORE_PACKAGES, ...DOMAIN_PACKAGES, ...TEST_ONLY_PACKAGES]
const TEST_FILES = ['**/*.test.ts', '**/*.bench.ts', '**/*-test-support.ts']

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

/**
 * Node 20 can deadlock for good when a JWK is exported from a key that `generateKeyPair(Sync)` (or
 * WebCrypto's generateKey, under jose) made: the export holds the key's mutex while it allocates,
 * and a garbage collection that frees the generation job takes the same mutex
 * (`packages/kbs-protocol/src/ec-key-pair.ts`). Keys are made with `generateEcKeyPair`, or
 * imported first; a JWK export from an imported key says so where it is disabled.
 */
const JWK_EXPORT_BAN = {
  selector:
    "CallExpression[callee.property.name='export'] > ObjectExpression > Property[key.name='format'][value.value='jwk']",
  message:
    'A JWK export can deadlock Node 20 on a generated key: use generateEcKeyPair (@initguard/kbs-protocol), or export from an imported key and say so.',
}
const JOSE_KEYGEN_BAN = {
  name: 'jose',
  importNames: ['generateKeyPair', 'exportJWK'],
  message:
    "jose's generateKeyPair + exportJWK can deadlock Node 20: use generateEcKeyPair (@initguard/kbs-protocol).",
}

const restrictedImports = (higher, extra = []) => [
  'error',
  {
    paths: [JOSE_KEYGEN_BAN, ...extra],
    patterns: [
      {
        group: scoped(TEST_ONLY_PACKAGES),
        message: '@initguard/testkit is for tests only.',
      },
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

/** Node modules a pure package may not import. */
const PURE_IMPORT_BANS = IO_MODULES.flatMap((m) => [
  { name: m, message: 'Core and domain packages are pure: no I/O, environment or clock.' },
  {
    name: `node:${m}`,
    message: 'Core and domain packages are pure: no I/O, environment or clock.',
  },
])

/** The import rule for the runtime modules of `packages`: nothing from `higher`, nor testkit. */
const layerRules = (packages, higher, extra = []) => ({
  files: filesOf(packages),
  ignores: TEST_FILES,
  rules: { 'no-restricted-imports': restrictedImports(higher, extra) },
})

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
        JWK_EXPORT_BAN,
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: filesOf(PURE_PACKAGES),
    ignores: TEST_FILES,
    rules: {
      'no-restricted-globals': [
        'error',
        {
          name: 'process',
          message: 'Core packages are pure: pass configuration in.',
        },
        {
          name: 'fetch',
          message: 'Core packages are pure: network belongs in the I/O packages.',
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
        JWK_EXPORT_BAN,
      ],
    },
  },
  // Layers: each package imports only its own layer or lower ones, and never testkit.
  layerRules(
    CORE_PACKAGES,
    [
      ...DOMAIN_PACKAGES,
      ...TRANSPORT_PACKAGES,
      ...IO_PACKAGES,
      ...SERVICE_PACKAGES,
      ...CLI_PACKAGES,
    ],
    PURE_IMPORT_BANS,
  ),
  layerRules(
    [...DOMAIN_PACKAGES, ...TEST_ONLY_PACKAGES],
    [...TRANSPORT_PACKAGES, ...IO_PACKAGES, ...SERVICE_PACKAGES, ...CLI_PACKAGES],
    PURE_IMPORT_BANS,
  ),
  layerRules(TRANSPORT_PACKAGES, [...IO_PACKAGES, ...SERVICE_PACKAGES, ...CLI_PACKAGES]),
  layerRules(IO_PACKAGES, [...SERVICE_PACKAGES, ...CLI_PACKAGES]),
  // Services arrive with the KBS and the agent; the rule is here so they start inside it.
  ...(SERVICE_PACKAGES.length === 0 ? [] : [layerRules(SERVICE_PACKAGES, CLI_PACKAGES)]),
  layerRules(CLI_PACKAGES, []),
  // testkit is pure except its throwaway PostgreSQL cluster and software TPM, which start real
  // server processes on free ports, the scratch directories tests make and remove, and the HTTP
  // servers on loopback tests talk to.
  {
    files: [
      'packages/testkit/src/free-port.ts',
      'packages/testkit/src/loopback-server.ts',
      'packages/testkit/src/postgres-cluster.ts',
      'packages/testkit/src/swtpm.ts',
      'packages/testkit/src/server-process.ts',
      'packages/testkit/src/scratch-directories.ts',
    ],
    rules: {
      'no-restricted-globals': 'off',
      'no-restricted-imports': restrictedImports([
        ...TRANSPORT_PACKAGES,
        ...IO_PACKAGES,
        ...SERVICE_PACKAGES,
        ...CLI_PACKAGES,
      ]),
    },
  },
)

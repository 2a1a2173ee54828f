// The linter's small rule set: what the type checker cannot say and a reader should not have to
// look for. no-floating-promises first (an unawaited promise crashed the host in a storage outage):
// a promise must be awaited, returned, handed on, handled (.catch / .then(ok, failed)) or marked
// `void` on purpose. Type-aware, on the same programs tsc checks (tsconfig.test.json covers the app and its tests).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.strata/**',
      'coverage/**',
      'test-output/**',
      'dashboard/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
    ],
  },
  {
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: ['./tsconfig.test.json'], tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    // Comments that disable @typescript-eslint/no-require-imports mark deliberate require()s for a
    // reader (lazy loads, the host's module hook); the rule itself is not in this small set.
    linterOptions: { reportUnusedDisableDirectives: 'off' },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/await-thenable': 'error',
      // A control character in a regex is a mistake unless its line says otherwise (names.ts, upload-file.ts do).
      'no-control-regex': 'error',
    },
  },
  // The wall between the rules and Azure (issue 12): in shared/, only shared/azure/ imports @azure/*
  // and opens stores from the raw Storage handle; the offline store is itself a Blob backend (its
  // segment blobs, cache and batch claims) and platform.ts is where every store is built. Nothing
  // in shared/ imports the Functions or Durable SDKs (functions/ and orchestrations/ do).
  {
    files: ['shared/**/*.ts'],
    ignores: [
      'shared/azure/**',
      'shared/platform.ts',
      'shared/features/offline/store.ts',
      'shared/features/offline/cache.ts',
      'shared/features/offline/segment-blobs.ts',
      'shared/features/offline/batch-claim.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@azure/*'],
              message: 'Azure SDKs are imported in shared/azure/ only: put the store behind a contract there.',
            },
            {
              group: ['**/azure/storage'],
              message: 'No core module takes the raw Storage: ask platform.ts for a store behind a contract.',
            },
            { group: ['durable-functions'], message: 'shared/ imports no Durable SDK (orchestrations/ do).' },
          ],
        },
      ],
    },
  },
);

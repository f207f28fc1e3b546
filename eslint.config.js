// Lint guards the architecture (CONTRIBUTING.md): no floating promises, type-only imports, no import
// cycles, and workflow code that stays deterministic by construction.
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['eslint.config.js', 'bin/*.js'] } },
    },
    plugins: { 'import-x': importX },
    settings: { 'import-x/resolver-next': [createTypeScriptImportResolver()] },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test collects these itself
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['describe', 'it', 'test'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'import-x/no-cycle': 'error',
    },
  },
  {
    // Workflows replay: no I/O, no clocks or randomness but the SDK's, no activity code as values.
    files: ['workflows/**/*.ts', 'test/**/*-workflows.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'workflows may not use Node built-ins',
          })),
          patterns: [
            {
              group: [
                '@temporalio/client',
                '@temporalio/worker',
                '@temporalio/activity',
                '@temporalio/testing',
              ],
              message: 'workflows import only @temporalio/workflow (and @temporalio/common)',
            },
            {
              group: ['@aws-sdk/*', '@kubernetes/*', 'node-vault', 'consul', 'pino'],
              message: 'workflows call SDKs only through activities',
            },
            {
              group: ['**/activities/**', '**/*-activities*', '!**/activities/types*'],
              allowTypeImports: true,
              message: 'workflows may import activity types only (import type)',
            },
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'setTimeout', message: 'use sleep() from @temporalio/workflow' },
        { name: 'setInterval', message: 'use sleep() from @temporalio/workflow' },
        { name: 'fetch', message: 'workflows do no I/O; call an activity' },
        { name: 'process', message: 'workflows may not read the process environment' },
      ],
    },
  },
  {
    // product code, and the local stack, benchmarks and scripts that test and measure it, stay
    // small enough to read: short functions, few parameters, shallow logic, and typed boundaries
    // between modules
    files: [
      'contracts/**/*.ts',
      'config/**/*.ts',
      'workflows/**/*.ts',
      'activities/**/*.ts',
      'kube/**/*.ts',
      'watcher/**/*.ts',
      'worker/**/*.ts',
      'cli/**/*.ts',
      'runtime/**/*.ts',
      'infra/**/*.ts',
      'bench/**/*.ts',
      'scripts/**/*.ts',
    ],
    rules: {
      'max-lines-per-function': ['error', { max: 60, skipBlankLines: true, skipComments: true }],
      complexity: ['error', 15],
      'max-params': ['error', 5],
      'max-depth': ['error', 4],
      '@typescript-eslint/explicit-module-boundary-types': 'error',
    },
  },
  {
    // activity objects are closures, not this-bound methods: passing them around is safe
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/unbound-method': 'off' },
  },
  {
    files: ['eslint.config.js'],
    ...tseslint.configs.disableTypeChecked,
  },
);

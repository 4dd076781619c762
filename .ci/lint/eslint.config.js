// Run from the repository root: .ci/lint/node_modules/.bin/eslint --config .ci/lint/eslint.config.js
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

// patterns are relative to the repository root
export default tseslint
  .config(
    { ignores: ['**/node_modules/**', '**/dist/**', '**/coverage/**', '.quorum/**', 'builders/npm/src/node-releases.ts'] },
    js.configs.recommended,
    ...tseslint.configs.recommended,
    {
      files: ['**/*.ts'],
      languageOptions: { ecmaVersion: 2023, sourceType: 'module' },
      rules: {
        // the unused-variable check of the compiler (noUnusedLocals, noUnusedParameters) is the one in force
        '@typescript-eslint/no-unused-vars': 'off',
        // terminal and path safety match control characters on purpose
        'no-control-regex': 'off',
      },
    },
    {
      // tests mutate parsed JSON documents (statements, packuments) freely to build hostile ones
      files: ['**/*.test.ts', 'test/**/*.ts', '**/test-support/**/*.ts'],
      rules: { '@typescript-eslint/no-explicit-any': 'off' },
    },
    {
      files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
      languageOptions: {
        ecmaVersion: 2023,
        globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', URL: 'readonly', setTimeout: 'readonly', require: 'readonly', module: 'writable', __dirname: 'readonly' },
      },
    },
  )
  .map((config) => ({ ...config, basePath: root }));

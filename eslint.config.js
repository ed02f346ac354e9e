// ESLint over src, test, bench, web and the build scripts: typescript-eslint's type-aware rules
// everywhere, with type information from the tsconfig that owns each file (tsconfig.json for src,
// test/tsconfig.json for test, web/ and bench/ their own with allowJs).
import js from '@eslint/js'
import { defineConfig } from 'eslint/config'
import globals from 'globals'
import tseslint from 'typescript-eslint'

export default defineConfig(
  { ignores: ['dist/', 'node_modules/', 'bench/out/', 'test-results/', 'data/', '.ci/'] },
  js.configs.recommended,
  tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['eslint.config.js', 'vitest.config.ts', 'scripts/*.mjs', 'src/threads/boot.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'warn' },
    rules: {
      // `_` marks a parameter a callback signature requires but the body does not use.
      // Fastify's contract: a plugin is an async function (or takes `done`), and a handler that
      // returns its reply is async; many of ours have nothing to await yet (store reads become async).
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['warn', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Plain JavaScript has no declared types: values from JSON, the DOM and child processes are
    // `any` there, so the no-unsafe-* family would flag every use; the promise and logic rules stay.
    files: ['**/*.js', '**/*.mjs'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  { files: ['web/**/*.js'], languageOptions: { globals: globals.browser } },
  { files: ['bench/**/*.mjs', 'scripts/**/*.mjs', '*.js', '*.ts', 'src/threads/boot.mjs'], languageOptions: { globals: globals.node } },
)

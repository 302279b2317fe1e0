// ESLint for the app (src/, e2e/): the layering rules of bulletproof-react, kept by the linter.
// Imports run one way: shared (components, inference, lib, sampling, stores, types) → features → app.
// A feature never imports another feature; shared code never imports a feature or the app; there
// are no import cycles; production code never imports test-only code (src/testing).
// TypeScript is parsed with Babel: the project's TypeScript 7 (native) has no JS compiler API for
// typescript-eslint; type checking stays with `tsc`.
import babelParser from '@babel/eslint-parser';
import js from '@eslint/js';
import importPlugin from 'eslint-plugin-import';
import reactHooks from 'eslint-plugin-react-hooks';
import globals from 'globals';
import { readdirSync } from 'node:fs';

const FEATURES = readdirSync(new URL('./src/features', import.meta.url), { withFileTypes: true })
  .filter((d) => d.isDirectory())
  .map((d) => d.name);
const SHARED = ['components', 'inference', 'lib', 'sampling', 'stores', 'types'].map((dir) => `./src/${dir}`);

const LAYERS = [
  // Shared code knows no feature and no app.
  { target: SHARED, from: ['./src/features', './src/app'], message: 'Shared code must not import a feature or the app: pass props, or move the code into the feature.' },
  // A feature knows no other feature and not the app.
  ...FEATURES.map((feature) => ({
    target: `./src/features/${feature}`,
    from: './src/features',
    except: [`./${feature}`],
    message: 'A feature must not import another feature: compose them in src/app, or move the shared part to a shared folder.',
  })),
  { target: './src/features', from: './src/app', message: 'Features must not import the app.' }
];

// Test-only code (src/testing) reaches production only through the gated test hook.
const NO_TEST_CODE = { target: './src', from: './src/testing', message: 'Production code must not import test-only code (src/testing).' };

export default [
  { ignores: ['dist/', 'node_modules/', 'playwright-report/', 'test-results/', '.venv/', 'training/', 'public/'] },
  js.configs.recommended,
  { files: ['*.js', 'scripts/**/*.mjs'], languageOptions: { globals: { ...globals.node, ...globals.browser } } },
  {
    files: ['src/**/*.{ts,tsx}', 'e2e/**/*.ts', '*.ts'],
    languageOptions: {
      parser: babelParser,
      parserOptions: {
        requireConfigFile: false,
        babelOptions: { babelrc: false, configFile: false, presets: [['@babel/preset-typescript', { isTSX: true, allExtensions: true }], ['@babel/preset-react', { runtime: 'automatic' }]] },
      },
      globals: { ...globals.browser, ...globals.worker, ...globals.node },
    },
    plugins: { import: importPlugin, 'react-hooks': reactHooks },
    settings: {
      'import/resolver': { typescript: { project: './tsconfig.json' }, node: true },
      'import/extensions': ['.ts', '.tsx', '.js', '.mjs', '.json'],
      'import/parsers': { '@babel/eslint-parser': ['.ts', '.tsx'] },
      // Packages are resolved, not parsed (Babel cannot read every .d.ts).
      'import/ignore': ['node_modules'],
    },
    rules: {
      // tsc checks names and types (noUnusedLocals); these rules do not understand TypeScript.
      'no-unused-vars': 'off',
      'no-undef': 'off',
      'no-redeclare': 'off',
      'import/no-cycle': ['error', { ignoreExternal: true }],
      'import/no-unresolved': 'error',
      'import/no-duplicates': 'error',
      'import/no-self-import': 'error',
      'import/no-restricted-paths': ['error', { zones: LAYERS }],
    },
  },
  {
    files: ['src/**/*.tsx'],
    rules: { 'react-hooks/rules-of-hooks': 'error', 'react-hooks/exhaustive-deps': 'error' },
  },
  {
    files: ['src/**/*.{ts,tsx}'],
    ignores: ['src/**/*.test.{ts,tsx}', 'src/testing/**', 'src/app/test-hook.ts'],
    rules: {
      // One list: a later block's options replace an earlier block's, they do not add up.
      'import/no-restricted-paths': ['error', { zones: [...LAYERS, NO_TEST_CODE] }],
    },
  },
];

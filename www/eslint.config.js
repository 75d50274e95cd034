// Lint for the front end: typescript-eslint's strict rules, type-aware where it matters.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  // sw.js: a service worker's script, with its own globals (written into each build by vite.config.ts).
  { ignores: ['dist/', 'node_modules/', 'sw.js'] },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: { allowDefaultProject: ['vite.config.ts'] }, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers and booleans in template strings are what a UI writes all day.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // wasm-pack's output may or may not exist when type-checking; such imports say why they are ignored.
      '@typescript-eslint/ban-ts-comment': ['error', { 'ts-ignore': 'allow-with-description' }],
    },
  },
  // Build config, not the app: linted, but without the app's type information.
  { files: ['**/*.js', 'vite.config.ts'], ...tseslint.configs.disableTypeChecked },
);

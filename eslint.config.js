import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.troupe/**',
      'test-results/**',
      'coverage/**',
      '**/*.js',
      '**/*.mjs',
      '**/*.cjs',
      '**/generated/**',
      // The tracker's page is hand-written JS served as is: linted here, type-checked by its tsconfig.
      '!packages/saga-tracker/ui/app.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: './tsconfig.check.json', tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // A forgotten await in a consumer loses messages silently.
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/switch-exhaustiveness-check': 'error',
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'max-params': ['error', 4],
      'no-console': 'off',
    },
  },
  {
    files: ['packages/saga-tracker/ui/**/*.js'],
    languageOptions: {
      parserOptions: { project: './packages/saga-tracker/ui/tsconfig.json', tsconfigRootDir: import.meta.dirname },
    },
    // Browser globals are known to the type checker (lib DOM), which reports undefined names.
    rules: { 'no-undef': 'off' },
  },
);

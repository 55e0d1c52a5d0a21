// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', 'migrations/', 'coverage/', 'data/', 'out/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-syntax': [
        'error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through src/config.ts.' },
      ],
    },
  },
  // The architecture (DESIGN §2): the command layer and the chat adapters reach storage only through
  // the ports in src/bots/core, wired in src/app.ts; the queue side never depends on the chat side.
  {
    files: ['src/bots/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/db', '**/db/*'], message: 'src/bots reaches storage through the ports in src/bots/core/repositories.ts (wired in src/app.ts).' }] },
      ],
    },
  },
  {
    files: ['src/jobs/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/bots', '**/bots/*', '**/bots/**'], message: 'src/jobs must not depend on the chat side (src/bots).' }] }],
    },
  },
  {
    files: ['src/config.ts', 'src/cli.ts', 'test/**', 'bench/**', 'drizzle.config.ts', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);

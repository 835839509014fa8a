// Lint: a focused set of type-aware rules (typescript-eslint) that catch real bugs — promises nobody awaits
// or handles, promises where a callback's result is ignored, objects stringified as "[object Object]",
// throwing or rejecting with non-errors, unreachable or shadowed code — plus ESLint's recommended rules.
// The whole recommended-type-checked preset is not used: most of its ~870 findings here were style
// (non-null assertions TypeScript already narrows, `any` from JSON.parse in tests). Formatting is
// Prettier's business (npm run format:check), dead code knip's (npm run knip).
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "tmp/**", ".esql/**", "**/__snapshots__/**"] },
  {
    files: ["**/*.ts", "**/*.tsx"],
    extends: [js.configs.recommended, ...tseslint.configs.recommended],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Promises.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/return-await": ["error", "in-try-catch"],
      "@typescript-eslint/prefer-promise-reject-errors": "error",
      "@typescript-eslint/only-throw-error": "error",
      // Values that do not mean what they look like.
      // Values of unknown type here are JSON scalars from files and responses; objects of known type are checked.
      "@typescript-eslint/no-base-to-string": ["error", { checkUnknown: false }],
      "@typescript-eslint/restrict-template-expressions": "error",
      "@typescript-eslint/no-for-in-array": "error",
      "@typescript-eslint/no-array-delete": "error",
      "@typescript-eslint/no-implied-eval": "error",
      "@typescript-eslint/unbound-method": "error",
      "@typescript-eslint/no-redundant-type-constituents": "error",
      "@typescript-eslint/no-duplicate-type-constituents": "error",
      "@typescript-eslint/no-unsafe-unary-minus": "error",
      // Exhaustive switches end in assertNever (src/types/never.ts); this catches the ones without.
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/no-unused-vars": [
        "error",
        { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true },
      ],
      // `any` is allowed where it is deliberate (JSON of unknown shape in tests); the unsafe-* rules are off.
      "@typescript-eslint/no-explicit-any": "off",
      // The lexers, the serdes and the terminal tests match control characters on purpose.
      "no-control-regex": "off",
    },
  },
);

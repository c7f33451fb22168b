import tseslint from "typescript-eslint";
import importX from "eslint-plugin-import-x";
import { createTypeScriptImportResolver } from "eslint-import-resolver-typescript";

/**
 * Who may import whom (docs/architecture.md, "Package graph"):
 *   protocol ← client;  protocol ← core ← broker, workers ← cli
 * protocol and core never import the SDK; nothing reaches into another
 * package's src/ or crosses a package by relative path; every import is a
 * declared dependency; no import cycles.
 */
const noSdk = (from) => ({
  files: [`${from}/**/*.ts`],
  rules: {
    "no-restricted-imports": [
      "error",
      {
        patterns: [
          { group: ["@taskwire/*/src", "@taskwire/*/src/*"], message: "import a package by its name and public exports, never its src/" },
          { group: ["@taskwire/client", "@taskwire/client/*"], message: `${from} stands below the SDK: protocol and core never import @taskwire/client` },
          { group: ["@taskwire/broker", "@taskwire/worker", "@taskwire/cli"], message: `${from} stands below broker, worker and cli` },
        ],
      },
    ],
  },
});

export default tseslint.config(
  { ignores: ["**/dist/**", "**/gen/**", "node_modules/**", "clients/python/**", "clients/go/**", "**/*.js", "**/*.mjs", "**/*.cjs", "bench/results/**", ".tools/**", ".taskwire/**"] },
  ...tseslint.configs.recommended,
  {
    plugins: { "import-x": importX },
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    settings: {
      "import-x/resolver-next": [createTypeScriptImportResolver({ project: "tsconfig.json", conditionNames: ["taskwire-source", "types", "import", "node", "default"] })],
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": ["error", { checksVoidReturn: { arguments: false } }],
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-restricted-imports": ["error", { patterns: [{ group: ["@taskwire/*/src", "@taskwire/*/src/*"], message: "import a package by its name and public exports, never its src/" }] }],
      "import-x/no-relative-packages": "error",
      "import-x/no-extraneous-dependencies": ["error", { includeInternal: true, includeTypes: true }],
      "import-x/no-cycle": "error",
      "import-x/no-self-import": "error",
    },
  },
  noSdk("protocol"),
  noSdk("core"),
  {
    files: ["broker/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            { group: ["@taskwire/*/src", "@taskwire/*/src/*"], message: "import a package by its name and public exports, never its src/" },
            { group: ["@taskwire/client", "@taskwire/client/*", "@taskwire/worker", "@taskwire/cli"], message: "the broker stands on protocol and core only" },
          ],
        },
      ],
    },
  },
);

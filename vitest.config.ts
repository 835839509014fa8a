import { defineConfig } from "vitest/config";

/**
 * Two projects: `unit` (no broker needed: compiler, runtime on the embedded log, CLI) and `kafka`
 * (suites that start or use a real broker). `npm test` runs both; CI also runs `unit` under Node 24. Both
 * first rebuild `dist/` when a source is newer (test/fixtures/build.ts): the CLI's tests spawn the build.
 */
export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 180_000,
    pool: "forks",
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: ["test/kafka/**", "**/node_modules/**"],
          // One note when ksqlDB's conformance cases (../shared/conformance/ksql) are absent.
          globalSetup: ["test/fixtures/build.ts", "test/fixtures/note-ksql-cases.ts"],
        },
      },
      {
        extends: true,
        test: {
          name: "kafka",
          include: ["test/kafka/**/*.test.ts"],
          globalSetup: ["test/fixtures/build.ts", "test/kafka/global-setup.ts"],
        },
      },
    ],
  },
});

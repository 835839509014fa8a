/**
 * `esql compile` records in the artifact the user functions each plan calls (name and module hash); deploying it
 * with other function code (`esql apply --plan`) is refused, since what would run is not what was compiled.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { loadFunctions } from "../../runtime/engine/functions.ts";
import { artifactFunctionChanges, compileArtifact } from "../../src/cli/artifact.ts";
import { functions as builtins } from "../../src/functions/registry.ts";
import { tempDir } from "../fixtures/temp.ts";

describe("esql compile with user functions", () => {
  it("records each plan's user functions and their hashes; other code is reported", async () => {
    const dir = tempDir("esql-artifact-fns-");
    const fns = join(dir, "functions");
    mkdirSync(fns);
    const module = (factor: number) =>
      `export const SCALE = { kind: "scalar", name: "SCALE", params: ["INTEGER x"], returns: "INTEGER", fn: (x: number) => x * ${factor} };\n`;
    writeFileSync(join(fns, "scale.ts"), module(2));
    writeFileSync(
      join(dir, "q.esql"),
      `CREATE STREAM s (id STRING KEY, n INT) WITH (kafka_topic = 's', value_format = 'JSON', partitions = 1);
CREATE STREAM t AS SELECT id, SCALE(n) AS m FROM s;
CREATE STREAM u AS SELECT id, n FROM s;`,
    );
    const compiledWith = await loadFunctions([fns]);
    const { artifact, errors } = compileArtifact([join(dir, "q.esql")], compiledWith);
    expect(errors).toEqual([]);
    const statements = artifact.files[0]!.statements;
    expect(statements[1]!.functions).toEqual([{ name: "SCALE", hash: compiledWith.get("SCALE")!.origin!.hash }]);
    expect(statements[2]!.functions).toBeUndefined();
    expect(artifactFunctionChanges(artifact, compiledWith)).toEqual([]);

    writeFileSync(join(fns, "scale.ts"), module(3));
    expect(artifactFunctionChanges(artifact, await loadFunctions([fns]))).toEqual([
      expect.stringMatching(
        /^CREATE STREAM t AS SELECT id, SCALE\(n\).*: user function SCALE changed: deployed with sha256/,
      ),
    ]);
    expect(artifactFunctionChanges(artifact, builtins)).toEqual([
      expect.stringMatching(/user function SCALE \(sha256 [0-9a-f]{12}\) is not loaded$/),
    ]);
  });
});

/**
 * esql's version: the `version` of the nearest `package.json` above this module. The same lookup finds it
 * from the TypeScript sources (`src/`) and from the build (`dist/`, where the modules sit at another depth).
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

function packageVersion(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const file = join(dir, "package.json");
    if (existsSync(file)) return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
    if (dirname(dir) === dir) return "unknown";
  }
}

export const ESQL_VERSION = packageVersion();

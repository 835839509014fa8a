/**
 * What is deployed, name by name: the versions of each stream and table, read from the engine's catalog and
 * the deploy steps of its command topic (`steps.ts`).
 *
 * Naming: version 1 of `NAME` is the object as first created (`CREATE TABLE NAME AS ...`); version n ≥ 2 is
 * a hidden object `NAME__V<n>` created from the same statement with that name and the topic `<topic>__v<n>`.
 * After a switch, the catalog entry `NAME` is a copy of the serving version's, and version 1 lives on as
 * `NAME__V1`. Hidden objects can be queried under their own names.
 */
import type { Catalog } from "../../src/compile.ts";
import type { DeployStep } from "./steps.ts";

export type VersionState = "serving" | "kept" | "building";

export interface DeployedVersion {
  readonly version: number;
  /** The hidden name of the version (`NAME__V<n>`); version 1 has it only after the first switch. */
  readonly alias: string;
  /** The statement as the user wrote it (with the object's own name). */
  readonly text: string;
  /** The persistent query that writes it (absent for a plain CREATE STREAM/TABLE). */
  readonly queryId?: string;
  readonly state: VersionState;
}

export interface DeployedObject {
  readonly name: string;
  readonly sourceType: "STREAM" | "TABLE";
  /** The version serving the name (1 until a rebuild switched). */
  readonly current: number;
  /** Live versions (serving, kept, building), by version number. */
  readonly versions: readonly DeployedVersion[];
  /** Versions that served the name, oldest first, each once (most recent last): rollback's order. */
  readonly served: readonly number[];
  /** The highest version number ever used (retired ones included): the next version is one more. */
  readonly maxVersion: number;
}

export const PROCESSING_LOG_NAME = "KSQL_PROCESSING_LOG";
const HIDDEN = /__V\d+$/;

export function versionAlias(name: string, version: number): string {
  return `${name}__V${version}`;
}

/** Whether a catalog name is a hidden version of another object. */
export function isVersionAlias(name: string): boolean {
  return HIDDEN.test(name);
}

interface Building {
  current: number;
  served: number[];
  versions: Map<number, { alias: string; text?: string }>;
  maxVersion: number;
}

/** The deployed objects (user-visible names only, in creation order) with their versions. */
export function readLedger(catalog: Catalog, steps: readonly DeployStep[]): Map<string, DeployedObject> {
  const byName = new Map<string, Building>();
  const entry = (name: string): Building => {
    let e = byName.get(name);
    if (!e)
      byName.set(
        name,
        (e = { current: 1, served: [1], versions: new Map([[1, { alias: versionAlias(name, 1) }]]), maxVersion: 1 }),
      );
    return e;
  };
  for (const s of steps) {
    const e = entry(s.name);
    switch (s.op) {
      case "begin":
        e.versions.set(s.version, { alias: s.alias, text: s.text });
        e.maxVersion = Math.max(e.maxVersion, s.version);
        break;
      case "switch":
        e.current = s.version;
        e.served = [...e.served.filter((v) => v !== s.version), s.version];
        break;
      case "retire":
        e.versions.delete(s.version);
        e.served = e.served.filter((v) => v !== s.version);
        break;
    }
  }
  const out = new Map<string, DeployedObject>();
  for (const source of catalog.sources.values()) {
    if (isVersionAlias(source.name) || source.name === PROCESSING_LOG_NAME) continue;
    const e = byName.get(source.name) ?? entry(source.name);
    const versions: DeployedVersion[] = [];
    for (const [version, v] of [...e.versions].sort((a, b) => a[0] - b[0])) {
      const own = catalog.source(v.alias);
      // Version 1 before any switch is the catalog entry itself.
      const at = own ?? (version === e.current ? source : undefined);
      if (!at) continue;
      const text = v.text ?? at.sql;
      const state: VersionState = version === e.current ? "serving" : e.served.includes(version) ? "kept" : "building";
      versions.push({ version, alias: v.alias, text, ...(at.writtenBy ? { queryId: at.writtenBy } : {}), state });
    }
    const live = new Set(versions.map((v) => v.version));
    out.set(source.name, {
      name: source.name,
      sourceType: source.sourceType,
      current: e.current,
      versions,
      served: e.served.filter((v) => live.has(v)),
      maxVersion: e.maxVersion,
    });
  }
  return out;
}

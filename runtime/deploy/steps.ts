/**
 * Deploy steps: the records `esql apply` / `esql rollback` add to the command topic next to statements.
 *
 * A step is a JSON record whose key is {@link DEPLOY_KEY}; statements have no key. The engine replays both
 * in order on open (`Engine.resume`), so the catalog after a replay is the catalog before the crash. Steps
 * only ever change the catalog; the queries they concern are started and stopped by ordinary statements
 * recorded around them (the versioned `CREATE ... AS SELECT`, `TERMINATE`).
 */
import type { Catalog } from "../../src/compile.ts";

/** The key of a deploy step record in the command topic. */
export const DEPLOY_KEY = "esql-deploy";

export type DeployStep =
  /**
   * A new version of `name` is being built under the hidden source name `alias` from the user's statement
   * `text` (as written in the folder). Changes nothing in the catalog; the versioned CREATE ... AS SELECT
   * follows as a statement record.
   */
  | {
      readonly op: "begin";
      readonly name: string;
      readonly version: number;
      readonly alias: string;
      readonly text: string;
      /** Versions to keep after its switch (`apply --keep`), for a service that finishes the rebuild itself. */
      readonly keep?: number;
    }
  /**
   * `name` is now served by `version`: the catalog entry `name` becomes a copy of the version's alias (its
   * columns, topic, writing query). Before the first switch, the original definition is kept as the alias
   * of version 1 (`previousAlias`) so it can be switched back to.
   */
  | {
      readonly op: "switch";
      readonly name: string;
      readonly version: number;
      readonly alias: string;
      readonly previousAlias?: string;
    }
  /** A version is gone (abandoned before its switch, or retired beyond the kept ones): its alias leaves the catalog. */
  | { readonly op: "retire"; readonly name: string; readonly version: number; readonly alias: string };

export function encodeStep(step: DeployStep): { key: Buffer; value: Buffer } {
  return { key: Buffer.from(DEPLOY_KEY), value: Buffer.from(JSON.stringify(step)) };
}

/** The step of a command-topic record, or undefined for a statement record. */
export function decodeStep(key: Buffer | null | undefined, value: Buffer | null | undefined): DeployStep | undefined {
  if (!key || key.toString("utf8") !== DEPLOY_KEY || !value) return undefined;
  return JSON.parse(value.toString("utf8")) as DeployStep;
}

/**
 * The catalog after a step (pure). Throws only for an internal inconsistency (a step naming an alias the
 * catalog does not have), which replay reports as a corrupt command topic.
 */
export function applyStep(catalog: Catalog, step: DeployStep): Catalog {
  switch (step.op) {
    case "begin":
      return catalog;
    case "switch": {
      const target = catalog.source(step.alias);
      const current = catalog.source(step.name);
      if (!target || !current) throw new Error(`internal: deploy switch of ${step.name} to missing ${step.alias}`);
      let c = catalog;
      if (step.previousAlias && !c.source(step.previousAlias))
        c = c.withSource({ ...current, name: step.previousAlias });
      return c.withSource({ ...target, name: step.name });
    }
    case "retire":
      return catalog.source(step.alias) ? catalog.withoutSource(step.alias) : catalog;
  }
}

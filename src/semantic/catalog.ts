/**
 * The catalog: what a script has defined so far (sources, custom types, topics, queries).
 *
 * A `Catalog` is an IMMUTABLE value: every change returns a new catalog and leaves the old one as it was,
 * so `compileScript` can keep the catalog of a failed statement unchanged and tools can compare
 * catalogs before/after a script. Maps inside are never mutated after construction.
 */
import type { SqlType } from "../types/sqltype.ts";
import type { AnalyzedQuery } from "./analyzed.ts";
import { PersistentMap } from "./persistentMap.ts";

export type {
  CatalogColumn,
  CatalogSource,
  FormatName,
  FormatSpec,
  Namespace,
  SourceWindow,
  TimestampSpec,
  WindowType,
} from "../plan/source.ts";
import type { CatalogSource } from "../plan/source.ts";

export interface CatalogQuery {
  readonly id: string;
  readonly sink?: string;
  readonly sources: readonly string[];
  readonly sql: string;
  /** The analyzed query (CREATE ... AS SELECT): what `CREATE OR REPLACE` compares a new definition with. */
  readonly query?: AnalyzedQuery;
}

export interface CatalogTopic {
  readonly name: string;
  readonly partitions: number;
}

export class Catalog {
  // Persistent maps: a change shares the rest with the old catalog, so a long script stays linear-ish.
  private constructor(
    readonly sources: PersistentMap<string, CatalogSource>,
    readonly types: PersistentMap<string, SqlType>,
    readonly topics: PersistentMap<string, CatalogTopic>,
    readonly queries: PersistentMap<string, CatalogQuery>,
    /** Counter behind query ids (ksqlDB numbers queries in creation order across all kinds). */
    readonly nextQueryNumber: number,
  ) {}

  static empty(): Catalog {
    return new Catalog(PersistentMap.of(), PersistentMap.of(), PersistentMap.of(), PersistentMap.of(), 1);
  }

  /** A catalog that knows these topics exist (e.g. topics created outside esql). */
  withTopics(topics: readonly CatalogTopic[]): Catalog {
    let m = this.topics;
    for (const t of topics) m = m.set(t.name, t);
    return new Catalog(this.sources, this.types, m, this.queries, this.nextQueryNumber);
  }

  source(name: string): CatalogSource | undefined {
    return this.sources.get(name);
  }

  type(name: string): SqlType | undefined {
    return this.types.get(name);
  }

  topic(name: string): CatalogTopic | undefined {
    return this.topics.get(name);
  }

  withSource(s: CatalogSource): Catalog {
    const sources = this.sources.set(s.name, s);
    const topics = this.topics.has(s.topic)
      ? this.topics
      : this.topics.set(s.topic, { name: s.topic, partitions: s.partitions ?? 1 });
    return new Catalog(sources, this.types, topics, this.queries, this.nextQueryNumber);
  }

  withoutSource(name: string): Catalog {
    const sources = this.sources.delete(name);
    return new Catalog(sources, this.types, this.topics, this.queries, this.nextQueryNumber);
  }

  withType(name: string, type: SqlType): Catalog {
    const types = this.types.set(name, type);
    return new Catalog(this.sources, types, this.topics, this.queries, this.nextQueryNumber);
  }

  withoutType(name: string): Catalog {
    const types = this.types.delete(name);
    return new Catalog(this.sources, types, this.topics, this.queries, this.nextQueryNumber);
  }

  /**
   * The id the next persistent query gets, ksqlDB style: `CSAS_<SINK>_<n>`, `CTAS_<SINK>_<n>`,
   * `INSERTQUERY_<n>`; `n` counts every query created in this catalog's history, from 1... but ksqlDB
   * counts from 0 after the first statement; we follow the observable form `<prefix>_<n>` with n the number
   * of statements that created queries before, which is deterministic for a given script.
   */
  nextQueryId(kind: "CSAS" | "CTAS" | "INSERT", sink: string): string {
    const n = this.nextQueryNumber - 1;
    return kind === "INSERT" ? `INSERTQUERY_${n}` : `${kind}_${sink}_${n}`;
  }

  withQuery(q: CatalogQuery): Catalog {
    const queries = this.queries.set(q.id, q);
    return new Catalog(this.sources, this.types, this.topics, queries, this.nextQueryNumber + 1);
  }

  withoutQuery(id: string): Catalog {
    const queries = this.queries.delete(id);
    return new Catalog(this.sources, this.types, this.topics, queries, this.nextQueryNumber);
  }

  /** The queries reading `source` (to refuse dropping it). */
  queriesReading(source: string): CatalogQuery[] {
    return [...this.queries.values()].filter((q) => q.sources.includes(source));
  }
}

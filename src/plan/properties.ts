/**
 * The session properties esql reads (from `SET`, a request's `streamsProperties`/`properties`, the command
 * topic's record of a statement), by name: the one list the readers take their names from and
 * `/is_valid_property` answers from. Kafka Streams' names are also read with ksqlDB's `ksql.streams.` prefix.
 */
export const PROPERTIES = {
  /** Where a query with no committed position starts: `earliest` or `latest`. */
  autoOffsetReset: "auto.offset.reset",
  /** `exactly_once` (or `_v2`, `_beta`) or `at_least_once`. */
  processingGuarantee: "processing.guarantee",
  /** 0: every update reaches the sink (no record cache). */
  cacheMaxBytesBuffering: "cache.max.bytes.buffering",
  /** `false`: the planner of ksqlDB before 0.15 (a GROUP BY key column not in the projection). */
  newQueryPlanner: "ksql.new.query.planner.enabled",
  /** Prefix of the topic a CREATE ... AS SELECT names after its sink. */
  outputTopicPrefix: "ksql.output.topic.name.prefix",
  defaultKeyFormat: "ksql.persistence.default.format.key",
  defaultValueFormat: "ksql.persistence.default.format.value",
  wrapSingleValues: "ksql.persistence.wrap.single.values",
  pullLimitClause: "ksql.query.pull.limit.clause.enabled",
  pullRangeScan: "ksql.query.pull.range.scan.enabled",
  pullTableScan: "ksql.query.pull.table.scan.enabled",
  /** esql's own: `local` answers a pull query from this instance's stores only (instances ask each other so). */
  pullScope: "esql.pull.scope",
} as const;

/** Kafka Streams' properties, which ksqlDB also accepts with the `ksql.streams.` prefix. */
const STREAMS_PROPERTIES: ReadonlySet<string> = new Set([
  PROPERTIES.autoOffsetReset,
  PROPERTIES.processingGuarantee,
  PROPERTIES.cacheMaxBytesBuffering,
]);

export const STREAMS_PREFIX = "ksql.streams.";

/** Whether esql reads property `name` (with ksqlDB's `ksql.streams.` prefix for Kafka Streams' properties). */
export function knownProperty(name: string): boolean {
  const bare = name.startsWith(STREAMS_PREFIX) ? name.slice(STREAMS_PREFIX.length) : undefined;
  return bare !== undefined ? STREAMS_PROPERTIES.has(bare) : Object.values(PROPERTIES).includes(name as never);
}

/** Every property esql reads, by name. */
export const PROPERTY_NAMES: readonly string[] = Object.values(PROPERTIES);

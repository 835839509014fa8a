/**
 * SQL types of the ksqlDB dialect, as the analyzer, the function registry, the plans and the runtime see them.
 *
 * Runtime value representation (one for the whole project; serdes, functions and processors rely on it):
 *
 * | SQL type      | JavaScript value                                                             |
 * |---------------|------------------------------------------------------------------------------|
 * | any, NULL     | `null` (never `undefined`)                                                   |
 * | BOOLEAN       | `boolean`                                                                    |
 * | INTEGER       | `number`, a 32-bit signed integer                                            |
 * | BIGINT        | `number` while a safe integer (±2^53−1), else a `bigint` within ±2^63 (`Long`) |
 * | DOUBLE        | `number`                                                                     |
 * | DECIMAL(p,s)  | `bigint`: the unscaled value; the scale `s` is the static type's             |
 * | STRING        | `string`                                                                     |
 * | BYTES         | `Uint8Array` (a Buffer is fine)                                              |
 * | DATE          | `number`: days since 1970-01-01                                              |
 * | TIME          | `number`: milliseconds since midnight                                        |
 * | TIMESTAMP     | `number`: milliseconds since 1970-01-01T00:00:00Z                            |
 * | ARRAY<T>      | `unknown[]`                                                                  |
 * | MAP<K,V>      | `Map<unknown, unknown>`, insertion-ordered                                   |
 * | STRUCT<...>   | a plain object with every declared field as a key (value `null` when absent) |
 *
 * All of these survive `v8.serialize`, which the runtime uses for state.
 */
export type SqlType =
  | { readonly kind: "BOOLEAN" }
  | { readonly kind: "INTEGER" }
  | { readonly kind: "BIGINT" }
  | { readonly kind: "DOUBLE" }
  | { readonly kind: "DECIMAL"; readonly precision: number; readonly scale: number }
  | { readonly kind: "STRING" }
  | { readonly kind: "BYTES" }
  | { readonly kind: "DATE" }
  | { readonly kind: "TIME" }
  | { readonly kind: "TIMESTAMP" }
  | { readonly kind: "ARRAY"; readonly element: SqlType }
  | { readonly kind: "MAP"; readonly key: SqlType; readonly value: SqlType }
  | { readonly kind: "STRUCT"; readonly fields: readonly StructField[] }
  /** The type of an untyped `NULL` literal (or an empty array/map literal's element) before inference. */
  | { readonly kind: "NULL" };

export interface StructField {
  readonly name: string;
  readonly type: SqlType;
}

export type SqlTypeKind = SqlType["kind"];

export const BOOLEAN: SqlType = { kind: "BOOLEAN" };
export const INTEGER: SqlType = { kind: "INTEGER" };
export const BIGINT: SqlType = { kind: "BIGINT" };
export const DOUBLE: SqlType = { kind: "DOUBLE" };
export const STRING: SqlType = { kind: "STRING" };
export const BYTES: SqlType = { kind: "BYTES" };
export const DATE: SqlType = { kind: "DATE" };
export const TIME: SqlType = { kind: "TIME" };
export const TIMESTAMP: SqlType = { kind: "TIMESTAMP" };
export const NULL_TYPE: SqlType = { kind: "NULL" };

export const decimal = (precision: number, scale: number): SqlType => ({ kind: "DECIMAL", precision, scale });
export const array = (element: SqlType): SqlType => ({ kind: "ARRAY", element });
export const map = (key: SqlType, value: SqlType): SqlType => ({ kind: "MAP", key, value });
export const struct = (fields: readonly StructField[]): SqlType => ({ kind: "STRUCT", fields });

const NUMERIC_RANK: Partial<Record<SqlTypeKind, number>> = { INTEGER: 1, BIGINT: 2, DECIMAL: 3, DOUBLE: 4 };

export function isNumeric(t: SqlType): boolean {
  return NUMERIC_RANK[t.kind] !== undefined;
}

/** Position in ksqlDB's widening order INTEGER < BIGINT < DECIMAL < DOUBLE, or undefined for non-numbers. */
export function numericRank(t: SqlType): number | undefined {
  return NUMERIC_RANK[t.kind];
}

/** Structural equality (struct field names compared exactly, as ksqlDB does). */
export function typeEquals(a: SqlType, b: SqlType): boolean {
  if (a.kind !== b.kind) return false;
  switch (a.kind) {
    case "DECIMAL": {
      const o = b as typeof a;
      return a.precision === o.precision && a.scale === o.scale;
    }
    case "ARRAY":
      return typeEquals(a.element, (b as typeof a).element);
    case "MAP": {
      const o = b as typeof a;
      return typeEquals(a.key, o.key) && typeEquals(a.value, o.value);
    }
    case "STRUCT": {
      const o = b as typeof a;
      return (
        a.fields.length === o.fields.length &&
        a.fields.every((f, i) => f.name === o.fields[i]!.name && typeEquals(f.type, o.fields[i]!.type))
      );
    }
    default:
      return true;
  }
}

/**
 * The canonical text of a type as ksqlDB prints it in schemas: `INTEGER`, `DECIMAL(4, 2)`,
 * `ARRAY<STRING>`, `MAP<STRING, BIGINT>`, ``STRUCT<`A` INTEGER, `B` STRING>``.
 */
export function formatType(t: SqlType): string {
  switch (t.kind) {
    case "DECIMAL":
      return `DECIMAL(${t.precision}, ${t.scale})`;
    case "ARRAY":
      return `ARRAY<${formatType(t.element)}>`;
    case "MAP":
      return `MAP<${formatType(t.key)}, ${formatType(t.value)}>`;
    case "STRUCT":
      return `STRUCT<${t.fields.map((f) => `\`${f.name}\` ${formatType(f.type)}`).join(", ")}>`;
    default:
      return t.kind;
  }
}

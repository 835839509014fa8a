/**
 * The esql AST: readonly, `kind`-tagged, every node with the span of the text it came from.
 *
 * Identifiers are normalised when the AST is built: unquoted ones are upper-cased, back-quoted ones
 * are kept exactly as written (without the quotes). So `foo`, `FOO` and `` `FOO` `` are the same name,
 * and `` `foo` `` is another one. Names in the AST are always the normalised form.
 */
import type { Span } from "../diagnostics/diagnostic.ts";

export interface Node {
  readonly span: Span;
}

/** A name with its own span (for errors that point at just the name). */
export interface Name extends Node {
  readonly kind: "Name";
  readonly value: string;
  /** True when it was written back-quoted. */
  readonly quoted: boolean;
}

// ---------------------------------------------------------------------------------------------
// Types as written

export type PrimitiveTypeName =
  "BOOLEAN" | "INTEGER" | "BIGINT" | "DOUBLE" | "STRING" | "BYTES" | "DATE" | "TIME" | "TIMESTAMP";

export type TypeNode =
  /** `INT` and `INTEGER` are INTEGER; `VARCHAR` and `STRING` are STRING. */
  | (Node & { readonly kind: "PrimitiveType"; readonly name: PrimitiveTypeName })
  | (Node & { readonly kind: "DecimalType"; readonly precision: number; readonly scale: number })
  | (Node & { readonly kind: "ArrayType"; readonly element: TypeNode })
  | (Node & { readonly kind: "MapType"; readonly key: TypeNode; readonly value: TypeNode })
  | (Node & { readonly kind: "StructType"; readonly fields: readonly StructFieldNode[] })
  /** A type registered with CREATE TYPE. */
  | (Node & { readonly kind: "CustomType"; readonly name: string });

export interface StructFieldNode extends Node {
  readonly kind: "StructField";
  readonly name: string;
  readonly type: TypeNode;
}

// ---------------------------------------------------------------------------------------------
// Expressions

export type Expr =
  | Literal
  | ColumnRef
  | Dereference
  | Subscript
  | Unary
  | Binary
  | IsNull
  | Between
  | InList
  | Like
  | IsDistinctFrom
  | Case
  | Cast
  | FunctionCall
  | Lambda
  | ArrayCtor
  | MapCtor
  | StructCtor;

/**
 * A literal. `literal` says how it was written:
 * - `integer`: digits only; INTEGER when it fits 32 bits, else BIGINT (`value` is a number).
 * - `decimal`: digits with a point (`1.50`): DECIMAL with the written precision and scale (`value` is the text).
 * - `double`: with an exponent (`1.5E3`): DOUBLE (`value` is a number).
 * - `string`: single-quoted, `''` unescaped (`value` is the string).
 * - `boolean`, `null`.
 */
export interface Literal extends Node {
  readonly kind: "Literal";
  readonly literal: "null" | "boolean" | "integer" | "decimal" | "double" | "string";
  readonly value: null | boolean | number | string;
  /** The literal exactly as it appears in the source. */
  readonly text: string;
}

/** `name` or `qualifier.name`. The analyzer decides whether `a.b` is a qualified column or a struct field. */
export interface ColumnRef extends Node {
  readonly kind: "ColumnRef";
  readonly qualifier?: string;
  readonly name: string;
}

/** `base->field` */
export interface Dereference extends Node {
  readonly kind: "Dereference";
  readonly base: Expr;
  readonly field: string;
}

/** `base[index]` (arrays are 1-based, negative indexes count from the end; maps by key). */
export interface Subscript extends Node {
  readonly kind: "Subscript";
  readonly base: Expr;
  readonly index: Expr;
}

export interface Unary extends Node {
  readonly kind: "Unary";
  readonly op: "-" | "+" | "NOT";
  readonly operand: Expr;
}

export type ArithmeticOp = "+" | "-" | "*" | "/" | "%";
export type ComparisonOp = "=" | "<>" | "<" | "<=" | ">" | ">=";
export type LogicalOp = "AND" | "OR";

/** `!=` is normalised to `<>`. `||` is string concatenation. */
export interface Binary extends Node {
  readonly kind: "Binary";
  readonly op: ArithmeticOp | ComparisonOp | LogicalOp | "||";
  readonly left: Expr;
  readonly right: Expr;
}

export interface IsNull extends Node {
  readonly kind: "IsNull";
  readonly operand: Expr;
  readonly negated: boolean;
}

export interface Between extends Node {
  readonly kind: "Between";
  readonly operand: Expr;
  readonly low: Expr;
  readonly high: Expr;
  readonly negated: boolean;
}

export interface InList extends Node {
  readonly kind: "InList";
  readonly operand: Expr;
  readonly items: readonly Expr[];
  readonly negated: boolean;
}

export interface Like extends Node {
  readonly kind: "Like";
  readonly operand: Expr;
  readonly pattern: Expr;
  readonly escape?: Expr;
  readonly negated: boolean;
}

export interface IsDistinctFrom extends Node {
  readonly kind: "IsDistinctFrom";
  readonly left: Expr;
  readonly right: Expr;
  readonly negated: boolean;
}

/** Searched CASE (`operand` absent) or simple CASE (`CASE operand WHEN value THEN ...`). */
export interface Case extends Node {
  readonly kind: "Case";
  readonly operand?: Expr;
  readonly whens: readonly { readonly when: Expr; readonly then: Expr; readonly span: Span }[];
  readonly else?: Expr;
}

export interface Cast extends Node {
  readonly kind: "Cast";
  readonly operand: Expr;
  readonly type: TypeNode;
}

/** A call; `name` upper-cased. `COUNT(*)` has `star: true` and no args. */
export interface FunctionCall extends Node {
  readonly kind: "FunctionCall";
  readonly name: string;
  readonly nameSpan: Span;
  readonly args: readonly Expr[];
  readonly star: boolean;
}

/** `x => body` or `(x, y) => body`; only valid as a function argument. */
export interface Lambda extends Node {
  readonly kind: "Lambda";
  readonly params: readonly string[];
  readonly body: Expr;
}

export interface ArrayCtor extends Node {
  readonly kind: "ArrayCtor";
  readonly items: readonly Expr[];
}

export interface MapCtor extends Node {
  readonly kind: "MapCtor";
  readonly entries: readonly { readonly key: Expr; readonly value: Expr }[];
}

export interface StructCtor extends Node {
  readonly kind: "StructCtor";
  readonly fields: readonly { readonly name: string; readonly value: Expr; readonly span: Span }[];
}

// ---------------------------------------------------------------------------------------------
// Queries

export type SelectItem =
  | (Node & { readonly kind: "SelectExpr"; readonly expr: Expr; readonly alias?: Name })
  /** `*` or `source.*` */
  | (Node & { readonly kind: "SelectAll"; readonly qualifier?: string })
  /** `expr->*`: every field of a struct-valued expression becomes a column (named after the field). */
  | (Node & { readonly kind: "SelectStructAll"; readonly expr: Expr });

export type Relation = AliasedSource | Join;

export interface AliasedSource extends Node {
  readonly kind: "AliasedSource";
  readonly name: Name;
  readonly alias?: Name;
  /** `FOR SYSTEM_TIME AS OF <time>`: read a table with history as it was at that event time. */
  readonly asOf?: Expr;
}

export type JoinType = "INNER" | "LEFT" | "RIGHT" | "FULL";

/** `left [INNER|LEFT [OUTER]|RIGHT [OUTER]|FULL [OUTER]] JOIN right [WITHIN ...] ON criteria` */
export interface Join extends Node {
  readonly kind: "Join";
  readonly joinType: JoinType;
  readonly left: Relation;
  readonly right: AliasedSource;
  readonly within?: Within;
  readonly on: Expr;
}

/** `WITHIN n unit [GRACE PERIOD n unit]` or `WITHIN (before unit, after unit) [GRACE PERIOD ...]`. */
export interface Within extends Node {
  readonly kind: "Within";
  readonly before: Duration;
  readonly after: Duration;
  readonly grace?: Duration;
}

export type TimeUnit = "MILLISECONDS" | "SECONDS" | "MINUTES" | "HOURS" | "DAYS";

/** `n unit`; singular unit names are accepted and normalised to the plural. */
export interface Duration extends Node {
  readonly kind: "Duration";
  readonly value: number;
  readonly unit: TimeUnit;
  /** The duration in milliseconds. */
  readonly millis: number;
}

export type WindowExpr =
  | (Node & {
      readonly kind: "TumblingWindow";
      readonly size: Duration;
      readonly retention?: Duration;
      readonly grace?: Duration;
    })
  | (Node & {
      readonly kind: "HoppingWindow";
      readonly size: Duration;
      readonly advance: Duration;
      readonly retention?: Duration;
      readonly grace?: Duration;
    })
  | (Node & {
      readonly kind: "SessionWindow";
      readonly gap: Duration;
      readonly retention?: Duration;
      readonly grace?: Duration;
    });

export interface Query extends Node {
  readonly kind: "Query";
  readonly select: readonly SelectItem[];
  readonly from: Relation;
  readonly window?: WindowExpr;
  readonly where?: Expr;
  readonly groupBy?: readonly Expr[];
  readonly partitionBy?: readonly Expr[];
  readonly having?: Expr;
  /** `EMIT CHANGES` / `EMIT FINAL`; absent for a pull query or inside CSAS/CTAS without EMIT. */
  readonly emit?: "CHANGES" | "FINAL";
  readonly limit?: number;
}

// ---------------------------------------------------------------------------------------------
// Statements

/** `name = literal` inside `WITH (...)`; `name` upper-cased. */
export interface Property extends Node {
  readonly kind: "Property";
  readonly name: string;
  readonly nameSpan: Span;
  readonly value: Literal;
}

export type ColumnConstraint =
  | { readonly kind: "None" }
  | { readonly kind: "Key" }
  | { readonly kind: "PrimaryKey" }
  /** `HEADERS`: the column is all headers, `ARRAY<STRUCT<KEY STRING, VALUE BYTES>>`. */
  | { readonly kind: "Headers" }
  /** `HEADER('key')`: the column is the last header with that key, BYTES. */
  | { readonly kind: "Header"; readonly key: string };

export interface TableElement extends Node {
  readonly kind: "TableElement";
  readonly name: Name;
  readonly type: TypeNode;
  readonly constraint: ColumnConstraint;
}

export type SourceType = "STREAM" | "TABLE";

export interface CreateSource extends Node {
  readonly kind: "CreateSource";
  readonly sourceType: SourceType;
  readonly orReplace: boolean;
  /** `CREATE SOURCE TABLE|STREAM`: read-only, materialized for pull queries. */
  readonly isSource: boolean;
  readonly ifNotExists: boolean;
  readonly name: Name;
  readonly elements: readonly TableElement[];
  readonly properties: readonly Property[];
}

/** CSAS / CTAS: `CREATE [OR REPLACE] STREAM|TABLE [IF NOT EXISTS] name [WITH (...)] AS SELECT ...` */
export interface CreateAsSelect extends Node {
  readonly kind: "CreateAsSelect";
  readonly sourceType: SourceType;
  readonly orReplace: boolean;
  readonly ifNotExists: boolean;
  readonly name: Name;
  readonly properties: readonly Property[];
  readonly query: Query;
}

/** `INSERT INTO target [WITH (...)] SELECT ...` */
export interface InsertInto extends Node {
  readonly kind: "InsertInto";
  readonly target: Name;
  readonly properties: readonly Property[];
  readonly query: Query;
}

/** `INSERT INTO target [(col, ...)] VALUES (expr, ...)` */
export interface InsertValues extends Node {
  readonly kind: "InsertValues";
  readonly target: Name;
  readonly columns?: readonly Name[];
  readonly values: readonly Expr[];
}

export interface DropSource extends Node {
  readonly kind: "DropSource";
  readonly sourceType: SourceType;
  readonly ifExists: boolean;
  readonly name: Name;
  readonly deleteTopic: boolean;
}

/** `CREATE TYPE [IF NOT EXISTS] name AS type` */
export interface CreateType extends Node {
  readonly kind: "CreateType";
  readonly ifNotExists: boolean;
  readonly name: Name;
  readonly type: TypeNode;
}

export interface DropType extends Node {
  readonly kind: "DropType";
  readonly ifExists: boolean;
  readonly name: Name;
}

/** `TERMINATE query_id` or `TERMINATE ALL`. */
export interface Terminate extends Node {
  readonly kind: "Terminate";
  readonly queryId?: string;
  readonly all: boolean;
}

/** `DEFINE name = 'value'` (the value unquoted). Substitution of `${name}` happens while parsing later statements. */
export interface Define extends Node {
  readonly kind: "Define";
  readonly name: string;
  readonly value: string;
}

export interface Undefine extends Node {
  readonly kind: "Undefine";
  readonly name: string;
}

/** `SET 'name' = 'value'` */
export interface SetProperty extends Node {
  readonly kind: "SetProperty";
  readonly name: string;
  readonly value: string;
}

export interface UnsetProperty extends Node {
  readonly kind: "UnsetProperty";
  readonly name: string;
}

export type ShowWhat = "STREAMS" | "TABLES" | "QUERIES" | "TOPICS" | "FUNCTIONS" | "PROPERTIES" | "VARIABLES" | "TYPES";

/** `SHOW|LIST what [EXTENDED]` */
export interface Show extends Node {
  readonly kind: "Show";
  readonly what: ShowWhat;
  /** `SHOW ALL TOPICS`: internal topics too. */
  readonly all?: true;
  readonly extended: boolean;
}

/** `DESCRIBE [EXTENDED] name`, `DESCRIBE STREAMS|TABLES [EXTENDED]`, `DESCRIBE FUNCTION name`. */
export interface Describe extends Node {
  readonly kind: "Describe";
  readonly target:
    | { readonly kind: "Source"; readonly name: Name }
    | { readonly kind: "AllSources"; readonly sourceType: SourceType }
    | { readonly kind: "Function"; readonly name: Name };
  readonly extended: boolean;
}

/** `EXPLAIN statement` or `EXPLAIN query_id`. */
export interface Explain extends Node {
  readonly kind: "Explain";
  readonly statement?: Statement;
  readonly queryId?: string;
}

/** `PRINT topic [FROM BEGINNING] [INTERVAL n] [LIMIT n]`; the topic name as written (quotes removed). */
export interface Print extends Node {
  readonly kind: "Print";
  readonly topic: string;
  readonly fromBeginning: boolean;
  readonly interval?: number;
  readonly limit?: number;
}

/** `RUN SCRIPT 'path'` */
export interface RunScript extends Node {
  readonly kind: "RunScript";
  readonly path: string;
}

/** A bare `SELECT`: a pull query (no EMIT) or a push query (`EMIT CHANGES|FINAL`). */
export interface QueryStatement extends Node {
  readonly kind: "QueryStatement";
  readonly query: Query;
}

export type Statement =
  | CreateSource
  | CreateAsSelect
  | InsertInto
  | InsertValues
  | DropSource
  | CreateType
  | DropType
  | Terminate
  | Define
  | Undefine
  | SetProperty
  | UnsetProperty
  | Show
  | Describe
  | Explain
  | Print
  | RunScript
  | QueryStatement;

/** One statement of a script: the AST and its exact text (after `${var}` substitution). */
export interface ParsedStatement {
  readonly statement: Statement;
  /** The statement's text as written, without the trailing `;`. */
  readonly text: string;
}

/**
 * How the REPL shows things: result tables (cli-table3), rows of push queries as they arrive, and the
 * outcome of statements. Pure functions from data to text; the session decides where the text goes.
 */
import Table from "cli-table3";
import type { SqlType } from "../../types/sqltype.ts";
import { displayType, displayValue } from "../../../runtime/serde/display.ts";

/** A column of a result: name and SQL type (absent when only text is known, e.g. from a server). */
export interface ResultColumn {
  readonly name: string;
  readonly type?: SqlType;
}

const NUMERIC = new Set(["INTEGER", "BIGINT", "DOUBLE", "DECIMAL"]);

function cellText(v: unknown, column: ResultColumn): string {
  if (v === null || v === undefined) return "null";
  if (column.type) return displayValue(v, displayType(column.name, column.type));
  return typeof v === "string" ? v : JSON.stringify(v, (_k, x: unknown) => (typeof x === "bigint" ? x.toString() : x));
}

/** Numbers align right: by the column's type, or by the value when the type is not known (listings). */
function numeric(column: ResultColumn, value: unknown): boolean {
  if (column.type === undefined) return typeof value === "number";
  return NUMERIC.has(column.type.kind) && !["WINDOWSTART", "WINDOWEND", "ROWTIME"].includes(column.name);
}

function style(color: boolean) {
  // compact: no rule between rows, like psql and ksqlDB's CLI.
  return { compact: true, head: color ? ["cyan"] : [], border: color ? ["grey"] : [] };
}

/** A whole result as an aligned table (pull queries, SHOW, DESCRIBE). */
export function renderTable(
  columns: readonly ResultColumn[],
  rows: readonly (readonly unknown[])[],
  color: boolean,
): string {
  const table = new Table({ head: columns.map((c) => c.name), style: style(color) });
  for (const row of rows) {
    table.push(
      columns.map((c, i) => ({ content: cellText(row[i], c), hAlign: numeric(c, row[i]) ? "right" : "left" }) as const),
    );
  }
  return table.toString();
}

const NO_RULES = {
  top: "",
  "top-mid": "",
  "top-left": "",
  "top-right": "",
  bottom: "",
  "bottom-mid": "",
  "bottom-left": "",
  "bottom-right": "",
};

/**
 * A table printed a row at a time (push queries, whose rows arrive one by one): fixed column widths
 * chosen from the header and the column types, values longer than their column cut with `…`.
 */
export class StreamingTable {
  private readonly widths: number[];
  constructor(
    private readonly columns: readonly ResultColumn[],
    private readonly color: boolean,
    terminalWidth = 120,
  ) {
    // Borders take 3 characters per column and 1 more.
    const share = Math.max(8, Math.floor((terminalWidth - 1) / Math.max(1, columns.length)) - 3);
    this.widths = columns.map((c) => Math.min(share, Math.max(c.name.length, typicalWidth(c.type))) + 2);
  }

  /** The top rule and the header line and the rule under it. */
  header(): string {
    const t = new Table({ head: this.columns.map((c) => c.name), colWidths: this.widths, style: style(this.color) });
    const lines = t.toString().split("\n");
    return lines.slice(0, -1).join("\n") + "\n" + this.rule("├", "┼", "┤");
  }

  row(values: readonly unknown[]): string {
    const t = new Table({ colWidths: this.widths, chars: NO_RULES, style: style(this.color), wordWrap: false });
    t.push(
      this.columns.map(
        (c, i) => ({ content: cellText(values[i], c), hAlign: numeric(c, values[i]) ? "right" : "left" }) as const,
      ),
    );
    return t.toString();
  }

  footer(): string {
    return this.rule("└", "┴", "┘");
  }

  private rule(left: string, mid: string, right: string): string {
    const t = new Table({ colWidths: this.widths, style: style(this.color) });
    t.push(this.columns.map(() => ""));
    const lines = t.toString().split("\n");
    // The bottom rule of a one-row table, with the wanted corners.
    const bottom = lines[lines.length - 1]!;
    return bottom.replace("└", left).replaceAll("┴", mid).replace("┘", right);
  }
}

/** A width that fits a usual value of the type. */
function typicalWidth(type: SqlType | undefined): number {
  switch (type?.kind) {
    case "BOOLEAN":
      return 5;
    case "INTEGER":
    case "BIGINT":
    case "DOUBLE":
    case "DECIMAL":
      return 10;
    case "TIMESTAMP":
      return 20;
    case "STRING":
      return 12;
    default:
      return 16;
  }
}

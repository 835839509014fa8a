/**
 * Literals: their types, and ksqlDB's conversions of STRING literals where another type is required (IN lists,
 * constructors, comparisons of ROWTIME and the window bounds with timestamp text).
 */
import type { Expr } from "../../ast/nodes.ts";
import { BIGINT, BOOLEAN, DOUBLE, INTEGER, NULL_TYPE, STRING, type SqlType } from "../../types/sqltype.ts";
import { parseIsoTimestamp } from "../../types/values.ts";
import { MAX_DECIMAL_PRECISION } from "../../limits.ts";
import { Codes } from "../codes.ts";
import type { ExprContext } from "../expressions.ts";
import type { TExpr } from "../typed.ts";
import { decimalLiteralType, integerLiteralType } from "../typeRules.ts";
import { report } from "./support.ts";

export function analyzeLiteral(e: Extract<Expr, { kind: "Literal" }>): TExpr {
  switch (e.literal) {
    case "null":
      return { kind: "Literal", type: NULL_TYPE, value: null };
    case "boolean":
      return { kind: "Literal", type: BOOLEAN, value: e.value as boolean };
    case "integer": {
      const t = integerLiteralType(e.value as number);
      // Beyond 2^53 a JS number loses digits: keep the text.
      const safe = Number.isSafeInteger(e.value as number);
      return {
        kind: "Literal",
        type: t,
        value: safe ? (e.value as number) : e.text,
      };
    }
    case "decimal":
      return {
        kind: "Literal",
        type: decimalLiteralType(String(e.value)),
        value: String(e.value),
      };
    case "double":
      return { kind: "Literal", type: DOUBLE, value: e.value as number };
    case "string":
      return { kind: "Literal", type: STRING, value: e.value as string };
  }
}

const TIME_COLUMNS = /(^|_)(ROWTIME|WINDOWSTART|WINDOWEND)$/;

/**
 * ksqlDB lets ROWTIME / WINDOWSTART / WINDOWEND (BIGINT millis) be compared with a timestamp string
 * (`ROWTIME > '2020-01-01T00:00:00'`): the string becomes the epoch millis it denotes, at compile time.
 * Returns `x` converted when `other` is such a column and `x` a STRING literal, else `x`.
 */
export function timeLiteral(other: TExpr, x: TExpr, src: Expr, ctx: ExprContext): TExpr {
  if (other.kind !== "Column" || other.type.kind !== "BIGINT" || !TIME_COLUMNS.test(other.name)) return x;
  if (x.kind !== "Literal" || typeof x.value !== "string") return x;
  const text = x.value.trim();
  if (/^-?\d+$/.test(text)) return { kind: "Literal", type: BIGINT, value: Number(text) };
  const ms = parsePartialTimestamp(text);
  if (ms !== undefined) return { kind: "Literal", type: BIGINT, value: ms };
  try {
    return { kind: "Literal", type: BIGINT, value: parseIsoTimestamp(text) };
  } catch {
    report(
      ctx,
      Codes.TYPE_MISMATCH,
      `Cannot convert '${text}' to a timestamp (expected yyyy-MM-ddTHH:mm:ss.SSS[zone])`,
      src.span,
    );
    return x;
  }
}

/**
 * ksqlDB's partial timestamp text for window bounds and ROWTIME: `yyyy-MM-dd['T'HH[:mm[:ss[.fff]]]][zone]`,
 * missing parts zero, hour 24 allowed (midnight of the next day), zone `Z`, `±hh[:mm]` or `±hhmm` (default UTC).
 */
function parsePartialTimestamp(text: string): number | undefined {
  const m =
    /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2})(?::(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?)?(Z|[+-]\d{2}(?::?\d{2})?)?$/.exec(
      text,
    );
  if (!m) return undefined;
  const [, y, mo, d, h = "0", mi = "0", se = "0", frac = "0", zone] = m;
  let offset = 0;
  if (zone && zone !== "Z") {
    const z = /^([+-])(\d{2}):?(\d{2})?$/.exec(zone)!;
    offset = (z[1] === "-" ? -1 : 1) * (Number(z[2]) * 60 + Number(z[3] ?? 0)) * 60000;
  }
  const ms = Date.UTC(
    Number(y),
    Number(mo) - 1,
    Number(d),
    Number(h),
    Number(mi),
    Number(se),
    Number(frac.padEnd(3, "0").slice(0, 3)),
  );
  return Number.isNaN(ms) ? undefined : ms - offset;
}

/** Decimal text without exponent (`2e1` → `20`, `1.5E-2` → `0.015`), or undefined when `s` is no number. */
function plainDecimalText(s: string): string | undefined {
  const m = /^([+-]?)(\d+\.?\d*|\.\d+)(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m) return undefined;
  const [, sign = "", num = "", expText] = m;
  if (expText === undefined) return s;
  const exp = Number(expText);
  // Beyond any DECIMAL's precision: not a number this dialect can hold (and not worth a string of zeros).
  if (!(Math.abs(exp) <= MAX_DECIMAL_PRECISION + num.length)) return undefined;
  const [i = "", f = ""] = num.split(".");
  let digits = i + f;
  let point = i.length + exp;
  if (point < 0) {
    digits = "0".repeat(-point) + digits;
    point = 0;
  }
  if (point > digits.length) digits += "0".repeat(point - digits.length);
  const intPart = digits.slice(0, point).replace(/^0+(?=\d)/, "") || "0";
  const frac = digits.slice(point);
  return `${sign}${intPart}${frac ? `.${frac}` : ""}`;
}

/** The number type of a numeric STRING literal's text: INTEGER/BIGINT for whole numbers, else DECIMAL. */
export function numericTextType(text: string): SqlType | undefined {
  const s = text.trim();
  const plain = plainDecimalText(s);
  if (plain === undefined) return undefined;
  if (/^[+-]?\d+$/.test(s)) {
    const n = Number(s);
    return Math.abs(n) <= 2147483647 ? INTEGER : BIGINT;
  }
  return decimalLiteralType(plain);
}

/**
 * ksqlDB converts STRING literals where another type is required (IN lists, constructors):
 * `'10'` for an INTEGER. Reports text that does not parse as the target type.
 */
export function coerceLiteral(x: TExpr, target: SqlType, src: Expr, ctx: ExprContext, prefix: string): TExpr {
  if (x.kind !== "Literal" || x.type.kind !== "STRING" || typeof x.value !== "string") return x;
  const s = x.value.trim();
  const fail = (): TExpr => {
    report(ctx, Codes.TYPE_MISMATCH, `${prefix}invalid input syntax for type ${target.kind}: "${x.value}".`, src.span);
    return x;
  };
  switch (target.kind) {
    case "INTEGER":
    case "BIGINT": {
      const n = Number(s);
      if (s === "" || !Number.isFinite(n) || !Number.isInteger(n)) return fail();
      return { kind: "Literal", type: target, value: n };
    }
    case "DOUBLE":
      if (s === "" || Number.isNaN(Number(s))) return fail();
      return { kind: "Literal", type: target, value: Number(s) };
    case "DECIMAL": {
      const plain = plainDecimalText(s);
      if (plain === undefined) return fail();
      return {
        kind: "Cast",
        type: target,
        operand: {
          kind: "Literal",
          type: decimalLiteralType(plain),
          value: plain,
        },
        implicit: true,
      };
    }
    case "BOOLEAN": {
      const l = s.toLowerCase();
      if (!["true", "false", "t", "f", "yes", "no", "y", "n"].includes(l)) return fail();
      return {
        kind: "Literal",
        type: BOOLEAN,
        value: ["true", "t", "yes", "y"].includes(l),
      };
    }
    default:
      return x;
  }
}

/** Conversions between BYTES and numbers, and AS_VALUE. */
import { normalizeLong } from "../types/values.ts";
import { scalar } from "./define.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "CONVERSIONS";
type Bytes = Uint8Array;

function fromBytes(
  name: string,
  size: number,
  returns: string,
  read: (v: DataView, le: boolean) => number | bigint,
): ScalarFunction {
  const impl = (b: Bytes, order: string): number | bigint => {
    if (b.length !== size) throw new Error(`${name}: expected ${size} bytes, got ${b.length}`);
    const o = order.toUpperCase();
    if (o !== "BIG_ENDIAN" && o !== "LITTLE_ENDIAN")
      throw new Error(`${name}: byte order must be BIG_ENDIAN or LITTLE_ENDIAN, got ${order}`);
    return read(new DataView(b.buffer, b.byteOffset, b.byteLength), o === "LITTLE_ENDIAN");
  };
  return scalar({
    name,
    category: CAT,
    description: `Reads a ${returns} from ${size} bytes (BIG_ENDIAN by default, or LITTLE_ENDIAN).`,
    overloads: [
      {
        params: ["BYTES b"],
        returns,
        impl: (b: Bytes) => impl(b, "BIG_ENDIAN"),
      },
      { params: ["BYTES b", "STRING byteOrder"], returns, impl },
    ],
  });
}

const AS_VALUE = scalar({
  name: "AS_VALUE",
  category: CAT,
  description: "Copies a key column into the value.",
  overloads: [{ params: ["T val"], returns: "T", nulls: "call", impl: (v: unknown) => v }],
});

export const conversionFunctions: readonly ScalarFunction[] = [
  fromBytes("INT_FROM_BYTES", 4, "INTEGER", (v, le) => v.getInt32(0, le)),
  fromBytes("BIGINT_FROM_BYTES", 8, "BIGINT", (v, le) => normalizeLong(v.getBigInt64(0, le))),
  fromBytes("DOUBLE_FROM_BYTES", 8, "DOUBLE", (v, le) => v.getFloat64(0, le)),
  AS_VALUE,
];

import { describe, expect, it } from "vitest";
import {
  createSerde,
  formatDecimal,
  formatSupportProblem,
  fromTestValue,
  parseDecimal,
  SerdeError,
  stringifyExact,
  toTestValue,
  type SerdeColumn,
  type SerdeFormat,
  type SerdeOptions,
} from "../../../runtime/serde/index.ts";
import { OutOfRangeError } from "../../../runtime/serde/types.ts";
import { javaDoubleToString, parseJavaDouble } from "../../../runtime/serde/text.ts";
import {
  array,
  BIGINT,
  BOOLEAN,
  BYTES,
  DATE,
  decimal,
  DOUBLE,
  INTEGER,
  map,
  STRING,
  struct,
  TIMESTAMP,
  type SqlType,
} from "../../../src/types/sqltype.ts";

const col = (name: string, type: SqlType): SerdeColumn => ({ name, type });
const VALUE: SerdeOptions = { isKey: false };
const KEY: SerdeOptions = { isKey: true };
const text = (b: Buffer | null): string | null => (b === null ? null : b.toString("utf8"));
const buf = (s: string): Buffer => Buffer.from(s, "utf8");

/** Deserializes the test-file form of a record part, as the conformance runner will. */
function read(
  format: SerdeFormat,
  columns: SerdeColumn[],
  options: SerdeOptions,
  testValue: unknown,
): unknown[] | null {
  return createSerde(format, columns, options).deserialize(fromTestValue(format, columns, options, testValue));
}
/** Serializes a row and gives its test-file form. */
function write(format: SerdeFormat, columns: SerdeColumn[], options: SerdeOptions, row: unknown[] | null): unknown {
  return toTestValue(format, columns, options, createSerde(format, columns, options).serialize(row));
}

describe("decimal text", () => {
  it("parses exactly at the type's scale", () => {
    expect(parseDecimal("12.365", 6, 4)).toBe(123650n);
    expect(parseDecimal(".12", 33, 16)).toBe(1200000000000000n);
    expect(parseDecimal("-12345.12", 33, 16)).toBe(-123451200000000000000n);
    expect(parseDecimal("1e2", 6, 2)).toBe(10000n);
    expect(parseDecimal("1.500", 4, 1)).toBe(15n);
    expect(() => parseDecimal("1.55", 4, 1)).toThrow(SerdeError);
    expect(() => parseDecimal("100", 4, 2)).toThrow(/overflow/);
    expect(() => parseDecimal("abc", 4, 2)).toThrow(SerdeError);
  });
  it("formats plain text", () => {
    expect(formatDecimal(-123451200000000000000n, 16)).toBe("-12345.1200000000000000");
    expect(formatDecimal(12n, 4)).toBe("0.0012");
    expect(formatDecimal(120000n, 4)).toBe("12.0000");
    expect(formatDecimal(5n, 0)).toBe("5");
  });
});

describe("Java number text", () => {
  it("prints doubles like Double.toString", () => {
    expect(javaDoubleToString(1)).toBe("1.0");
    expect(javaDoubleToString(654.321)).toBe("654.321");
    expect(javaDoubleToString(4.9e-324)).toBe("4.9E-324");
    expect(javaDoubleToString(-1.7976931348623157e308)).toBe("-1.7976931348623157E308");
    expect(javaDoubleToString(2.2250738585072014e-308)).toBe("2.2250738585072014E-308");
    expect(javaDoubleToString(1e7)).toBe("1.0E7");
    expect(javaDoubleToString(0.001)).toBe("0.001");
    expect(javaDoubleToString(0.0001)).toBe("1.0E-4");
    expect(javaDoubleToString(NaN)).toBe("NaN");
  });
  it("parses like Double.parseDouble", () => {
    expect(parseJavaDouble(" 1.5d ")).toBe(1.5);
    expect(parseJavaDouble("-Infinity")).toBe(-Infinity);
    expect(parseJavaDouble("1e3")).toBe(1000);
    expect(parseJavaDouble("abc")).toBeUndefined();
  });
});

describe("JSON", () => {
  const V = [col("V", INTEGER)];

  it("reads fields case-insensitively and missing fields as null", () => {
    const cols = [col("ID", BIGINT), col("KEY", STRING), col("X", DOUBLE)];
    expect(read("JSON", cols, VALUE, { key: "a", id: 1 })).toEqual([1, "a", null]);
    expect(read("JSON", cols, VALUE, { ID: 2, Key: "b", X: null })).toEqual([2, "b", null]);
    // a quoted lower-case column matches only exactly
    expect(read("JSON", [col("foo", INTEGER)], VALUE, { FOO: 1 })).toEqual([null]);
    expect(read("JSON", [col("foo", INTEGER)], VALUE, { foo: 1 })).toEqual([1]);
  });

  it("writes the columns in column order with their exact names", () => {
    const cols = [col("ID", BIGINT), col("KEY", STRING)];
    expect(text(createSerde("JSON", cols, VALUE).serialize([1, 'a"b']))).toBe('{"ID":1,"KEY":"a\\"b"}');
    expect(text(createSerde("JSON", cols, VALUE).serialize([null, null]))).toBe('{"ID":null,"KEY":null}');
    expect(createSerde("JSON", cols, VALUE).serialize(null)).toBeNull();
  });

  it("unwraps single values when asked, and single keys always", () => {
    const un: SerdeOptions = { isKey: false, wrapSingleValue: false };
    expect(read("JSON", [col("V", BOOLEAN)], un, true)).toEqual([true]);
    expect(read("JSON", [col("V", BOOLEAN)], un, null)).toBeNull();
    expect(write("JSON", [col("V", BOOLEAN)], un, [false])).toBe(false);
    // an unwrapped null is a null record (ksqlDB writes a tombstone)
    expect(createSerde("JSON", [col("V", BOOLEAN)], un).serialize([null])).toBeNull();
    expect(read("JSON", [col("K", INTEGER)], KEY, 33)).toEqual([33]);
    expect(write("JSON", [col("K", STRING)], KEY, ["Hey"])).toBe("Hey");
    expect(read("JSON", [col("K", struct([{ name: "F", type: DOUBLE }]))], KEY, { f: 45.67 })).toEqual([{ F: 45.67 }]);
    expect(write("JSON", [col("K1", STRING), col("K2", STRING)], KEY, ["foo", "bar"])).toEqual({
      K1: "foo",
      K2: "bar",
    });
    // a wrapped single value rejects a bare document
    expect(() => read("JSON", V, VALUE, 5)).toThrow(SerdeError);
  });

  it("coerces as ksqlDB does", () => {
    expect(read("JSON", [col("A", array(STRING))], { isKey: false, wrapSingleValue: false }, [1, 2, 3])).toEqual([
      ["1", "2", "3"],
    ]);
    expect(read("JSON", [col("S", STRING)], VALUE, { S: { b: 1, a: [true] } })).toEqual(['{"b":1,"a":[true]}']);
    expect(read("JSON", [col("S", STRING)], VALUE, { S: ["a", 1, null] })).toEqual(["[a, 1, null]"]);
    expect(read("JSON", [col("S", STRING)], VALUE, { S: true })).toEqual(["true"]);
    expect(read("JSON", V, VALUE, { V: "123" })).toEqual([123]);
    expect(read("JSON", V, VALUE, { V: 1.9 })).toEqual([1]);
    expect(read("JSON", [col("B", BIGINT)], VALUE, { B: "10827272222" })).toEqual([10827272222]);
    expect(read("JSON", [col("D", DOUBLE)], VALUE, { D: "1.5" })).toEqual([1.5]);
    expect(() => read("JSON", V, VALUE, { V: "abc" })).toThrow(
      /can't coerce string to type. targetType: INTEGER, path: \$.V/,
    );
    expect(() => read("JSON", [col("B", BOOLEAN)], VALUE, { B: "true" })).toThrow(
      /sourceType: TextNode, requiredType: BOOLEAN/,
    );
    expect(() => read("JSON", [col("A", array(INTEGER))], VALUE, { A: [1, "x"] })).toThrow(/path: \$\.A\[1\]/);
    expect(() => createSerde("JSON", V, VALUE).deserialize(buf("{not json"))).toThrow(/invalid JSON/);
  });

  it("reads and writes maps, structs, bytes, dates and timestamps", () => {
    const cols = [
      col("M", map(STRING, DOUBLE)),
      col(
        "S",
        struct([
          { name: "A", type: INTEGER },
          { name: "B", type: STRING },
        ]),
      ),
      col("BY", BYTES),
      col("D", DATE),
      col("T", TIMESTAMP),
    ];
    const row = read("JSON", cols, VALUE, {
      m: { a: 1.5, b: null },
      s: { a: 1 },
      by: "IQ==",
      d: 19000,
      t: 1700000000000,
    });
    expect(row).toEqual([
      new Map<unknown, unknown>([
        ["a", 1.5],
        ["b", null],
      ]),
      { A: 1, B: null },
      Buffer.from("!"),
      19000,
      1700000000000,
    ]);
    expect(write("JSON", cols, VALUE, row)).toEqual({
      M: { a: 1.5, b: null },
      S: { A: 1, B: null },
      BY: "IQ==",
      D: 19000,
      T: 1700000000000,
    });
  });

  it("keeps every digit of decimals", () => {
    const cols = [col("DEC", decimal(33, 16))];
    const serde = createSerde("JSON", cols, VALUE);
    const row = serde.deserialize(buf('{"DEC": 12345678987654321.2345678987654321}'));
    expect(row).toEqual([123456789876543212345678987654321n]);
    expect(text(serde.serialize(row))).toBe('{"DEC":12345678987654321.2345678987654321}');
    expect(read("JSON", [col("DEC", decimal(6, 4))], VALUE, { DEC: 0.0001 })).toEqual([1n]);
    expect(write("JSON", [col("DEC", decimal(6, 4))], VALUE, [100000n])).toEqual({ DEC: 10 });
    expect(read("JSON", [col("DEC", decimal(4, 2))], VALUE, { DEC: "1.5" })).toEqual([150n]);
  });

  it("does not mistake prototype members for fields", () => {
    expect(read("JSON", [col("constructor", STRING)], VALUE, {})).toEqual([null]);
  });
});

describe("DELIMITED", () => {
  const cols = [col("ID", BIGINT), col("NAME", STRING), col("VALUE", INTEGER)];

  it("reads and writes CSV with a delimiter", () => {
    expect(read("DELIMITED", cols, VALUE, "0,zero,0")).toEqual([0, "zero", 0]);
    expect(write("DELIMITED", cols, VALUE, [0, "zero", 0])).toBe("0,zero,0");
    const pipe: SerdeOptions = { isKey: false, delimiter: "|" };
    expect(read("DELIMITED", cols, pipe, "100|100|500")).toEqual([100, "100", 500]);
    expect(write("DELIMITED", cols, pipe, [100, "100", 500])).toBe("100|100|500");
    const tab: SerdeOptions = { isKey: false, delimiter: "TAB" };
    expect(read("DELIMITED", cols, tab, "0\tzero\t0")).toEqual([0, "zero", 0]);
  });

  it("reads quoted fields and empty fields as null", () => {
    expect(read("DELIMITED", [col("K", BOOLEAN)], KEY, '"true"')).toEqual([true]);
    expect(read("DELIMITED", [col("K", INTEGER)], KEY, '"22"')).toEqual([22]);
    expect(read("DELIMITED", [col("K1", STRING), col("K2", STRING)], KEY, '"foo","bar"')).toEqual(["foo", "bar"]);
    expect(
      read("DELIMITED", [col("K1", STRING), col("K2", STRING)], { isKey: true, delimiter: ";" }, "foo,bar;baz"),
    ).toEqual(["foo,bar", "baz"]);
    expect(read("DELIMITED", cols, VALUE, ',"a""b",')).toEqual([null, 'a"b', null]);
    expect(read("DELIMITED", [col("B", BOOLEAN)], VALUE, "yes")).toEqual([false]);
  });

  it("rejects wrong field counts and bad numbers", () => {
    expect(() => read("DELIMITED", cols, VALUE, "1,2")).toThrow(/csvFields:2 schemaFields:3/);
    expect(() => read("DELIMITED", cols, VALUE, "x,a,1")).toThrow(SerdeError);
    expect(() => read("DELIMITED", cols, VALUE, '"a"x,b,c')).toThrow(SerdeError);
  });

  it("writes decimals at their scale and quotes like ksqlDB", () => {
    const d = [col("V", decimal(33, 16))];
    expect(write("DELIMITED", d, VALUE, read("DELIMITED", d, VALUE, ".12"))).toBe("0.1200000000000000");
    expect(write("DELIMITED", d, VALUE, read("DELIMITED", d, VALUE, "-12345.12"))).toBe('"-12345.1200000000000000"');
    expect(write("DELIMITED", d, VALUE, read("DELIMITED", d, VALUE, '"-12345.12"'))).toBe('"-12345.1200000000000000"');
    expect(
      write("DELIMITED", [col("K", decimal(6, 4))], KEY, read("DELIMITED", [col("K", decimal(6, 4))], KEY, '"12.0"')),
    ).toBe("12.0000");
    const three = [col("A", STRING), col("B", BYTES), col("C", STRING)];
    expect(write("DELIMITED", three, VALUE, ["!", Buffer.from("!"), "!"])).toBe('"!",IQ==,"!"');
    expect(write("DELIMITED", [col("A", INTEGER), col("B", INTEGER)], VALUE, [0, -5])).toBe("0,-5");
    expect(write("DELIMITED", [col("A", STRING), col("B", STRING)], VALUE, [null, ""])).toBe(",");
    expect(write("DELIMITED", [col("A", STRING), col("B", STRING)], VALUE, ["", "a,b"])).toBe('"","a,b"');
    expect(write("DELIMITED", [col("D", DOUBLE), col("E", DOUBLE)], VALUE, [1, 4.9e-324])).toBe("1.0,4.9E-324");
  });
});

describe("KAFKA", () => {
  it("uses Kafka's primitive serializers", () => {
    expect(createSerde("KAFKA", [col("K", INTEGER)], KEY).serialize([1])).toEqual(Buffer.from([0, 0, 0, 1]));
    expect(createSerde("KAFKA", [col("K", BIGINT)], KEY).serialize([-2])).toEqual(
      Buffer.from([255, 255, 255, 255, 255, 255, 255, 254]),
    );
    expect(
      createSerde("KAFKA", [col("K", DOUBLE)], KEY)
        .serialize([1.1])
        ?.readDoubleBE(0),
    ).toBe(1.1);
    expect(text(createSerde("KAFKA", [col("K", STRING)], KEY).serialize(["foo"]))).toBe("foo");
    expect(createSerde("KAFKA", [col("K", STRING)], KEY).serialize([null])).toBeNull();
  });

  it("round-trips through the test representation", () => {
    expect(read("KAFKA", [col("K", BIGINT)], KEY, 998877665544)).toEqual([998877665544]);
    expect(read("KAFKA", [col("K", BIGINT)], KEY, -3)).toEqual([-3]);
    expect(write("KAFKA", [col("K", BIGINT)], KEY, [-3])).toBe(-3);
    expect(write("KAFKA", [col("K", DOUBLE)], KEY, [3])).toBe(3);
    expect(read("KAFKA", [col("K", STRING)], KEY, "")).toEqual([""]);
    expect(read("KAFKA", [col("K", STRING)], KEY, null)).toBeNull();
    expect(write("KAFKA", [col("B", BYTES)], VALUE, [Buffer.from("!")])).toBe("IQ==");
  });

  it("rejects bytes of the wrong size", () => {
    expect(() => createSerde("KAFKA", [col("K", INTEGER)], KEY).deserialize(buf("abc"))).toThrow(
      /IntegerDeserializer is not 4/,
    );
  });
});

describe("NONE and keyless", () => {
  it("writes null and reads any bytes as the empty row", () => {
    const none = createSerde("NONE", [], KEY);
    expect(none.serialize([])).toBeNull();
    expect(none.deserialize(buf("data that should be ignored"))).toEqual([]);
    expect(createSerde("JSON", [], KEY).deserialize(null)).toEqual([]);
  });
});

describe("formatSupportProblem", () => {
  it("says what ksqlDB says", () => {
    expect(formatSupportProblem("KAFKA", [col("FOO", array(INTEGER))], VALUE)).toBe(
      "The 'KAFKA' format does not support type 'ARRAY'",
    );
    expect(formatSupportProblem("KAFKA", [col("K", BOOLEAN)], KEY)).toBe(
      "The 'KAFKA' format does not support type 'BOOLEAN'",
    );
    expect(formatSupportProblem("NONE", [col("K", STRING)], KEY)).toBe(
      "The 'NONE' format can only be used when no columns are defined. Got: [`K` STRING KEY]",
    );
    expect(formatSupportProblem("JSON", [col("M", map(INTEGER, DOUBLE))], VALUE)).toBe(
      "JSON only supports MAP types with STRING keys",
    );
    expect(formatSupportProblem("DELIMITED", [col("S", struct([]))], VALUE)).toBe(
      "The 'DELIMITED' format does not support type 'STRUCT'",
    );
    expect(formatSupportProblem("DELIMITED", [col("S", STRING)], { isKey: false, delimiter: "<~>" })).toMatch(
      /Invalid delimiter/,
    );
    expect(formatSupportProblem("JSON", [col("S", STRING)], VALUE)).toBeUndefined();
  });
});

describe("BIGINT over the whole 64-bit range", () => {
  const MAX = 2n ** 63n - 1n;
  const MIN = -(2n ** 63n);
  const json = createSerde("JSON", [col("ID", BIGINT), col("N", INTEGER), col("A", array(BIGINT))], VALUE);
  const decodeError = (f: () => unknown): SerdeError => {
    try {
      f();
    } catch (e) {
      if (e instanceof SerdeError) return e;
      throw e;
    }
    throw new Error("no error");
  };

  it("reads JSON numbers exactly (a record is read again from its text only when a double may be rounded)", () => {
    expect(
      json.deserialize(buf('{"ID": 9223372036854775807, "N": 1, "A": [-9223372036854775808, 9007199254740993]}')),
    ).toEqual([MAX, 1, [MIN, 2n ** 53n + 1n]]);
    expect(json.deserialize(buf('{"ID": 9007199254740991, "N": 1.9, "A": [1.5e3, -2.5]}'))).toEqual([
      Number.MAX_SAFE_INTEGER,
      1,
      [1500, -2],
    ]);
    expect(json.deserialize(buf('{"ID": 9.2e18}'))).toEqual([9200000000000000000n, null, null]);
    expect(json.deserialize(buf('{"ID": "-9223372036854775808"}'))).toEqual([MIN, null, null]);
    // What a double-based producer writes for Long.MAX_VALUE / MIN_VALUE (±2^63) saturates, as Java's (long).
    expect(json.deserialize(buf('{"ID": 9223372036854776000}'))).toEqual([MAX, null, null]);
    expect(json.deserialize(buf('{"ID": -9223372036854776000}'))).toEqual([MIN, null, null]);
  });

  it("sends numbers beyond the column's range to the processing log with the reason out-of-range", () => {
    for (const doc of [
      '{"ID": 99999999999999999999}',
      '{"ID": -9223372036854777000}',
      '{"ID": 1e300}',
      '{"ID": "9223372036854775808"}',
      '{"A": [1, 99999999999999999999]}',
      '{"N": 3000000000}',
      '{"N": -2147483649}',
      '{"N": "3000000000"}',
    ]) {
      const e = decodeError(() => json.deserialize(buf(doc)));
      expect(e, doc).toBeInstanceOf(OutOfRangeError);
      expect(e.message).toMatch(/out-of-range/);
    }
    expect(decodeError(() => json.deserialize(buf('{"A": [1, 99999999999999999999]}'))).path).toBe("$.A[1]");
    expect(decodeError(() => json.deserialize(buf('{"ID": "x"}')))).not.toBeInstanceOf(OutOfRangeError);
  });

  it("writes JSON, DELIMITED and KAFKA exactly and reads them back", () => {
    expect(text(json.serialize([MIN, 1, [MAX, 2n ** 53n + 1n]]))).toBe(
      '{"ID":-9223372036854775808,"N":1,"A":[9223372036854775807,9007199254740993]}',
    );
    const csv = createSerde("DELIMITED", [col("A", BIGINT), col("B", BIGINT)], VALUE);
    expect(text(csv.serialize([1, MIN]))).toBe("1,-9223372036854775808");
    expect(csv.deserialize(buf("9223372036854775807,-9007199254740993"))).toEqual([MAX, -(2n ** 53n) - 1n]);
    expect(decodeError(() => csv.deserialize(buf("1,9223372036854775808")))).toBeInstanceOf(OutOfRangeError);
    const intCsv = createSerde("DELIMITED", [col("N", INTEGER)], VALUE);
    expect(decodeError(() => intCsv.deserialize(buf("3000000000")))).toBeInstanceOf(OutOfRangeError);
    const kafka = createSerde("KAFKA", [col("K", BIGINT)], KEY);
    for (const v of [MAX, MIN, 2n ** 53n, -(2n ** 53n), Number.MAX_SAFE_INTEGER, -1, 0]) {
      const bytes = kafka.serialize([v])!;
      expect(bytes.readBigInt64BE(0)).toBe(BigInt(v)); // Kafka's LongSerializer bytes: partitioning matches
      expect(kafka.deserialize(bytes)).toEqual([v]);
    }
  });

  it("stringifyExact writes bigints as digits and leaves everything else to JSON.stringify", () => {
    expect(stringifyExact({ row: { columns: ["a", MAX, [MIN], { X: 1n }, null] } })).toBe(
      '{"row":{"columns":["a",9223372036854775807,[-9223372036854775808],{"X":1},null]}}',
    );
    expect(stringifyExact(["\u0000", 1.5, true, { u: undefined }])).toBe(JSON.stringify(["\u0000", 1.5, true, {}]));
  });
});

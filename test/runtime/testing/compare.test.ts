import { describe, expect, it } from "vitest";
import { sameValue } from "../../../runtime/testing/compare.ts";
import { JsonNumber } from "../../../runtime/serde/json.ts";

describe("sameValue (ksqlDB's test-harness comparison)", () => {
  it("finds an expected field under its upper-cased name", () => {
    expect(sameValue({ json_v: "1" }, { JSON_V: "1" })).toBe(true);
    expect(sameValue({ json_v: "1" }, { JSON_V: "2" })).toBe(false);
    expect(sameValue({ Total: 1 }, { Total: 1 })).toBe(true);
  });

  it("reads a field missing under both names as null, with the same number of fields", () => {
    expect(sameValue({ HEX: null, B: 1 }, { ASCII: null, B: 1 })).toBe(true);
    expect(sameValue({ HEX: 2, B: 1 }, { ASCII: 2, B: 1 })).toBe(false);
    expect(sameValue({ A: null }, { A: null, B: null })).toBe(false);
    expect(sameValue({ constructor: null }, { X: null })).toBe(true);
  });

  it("compares numbers by value and nested values deeply", () => {
    expect(sameValue({ a: [1, { b: 2n }] }, { A: [1, { B: 2 }] })).toBe(true);
    expect(sameValue([1, 2], [1, 2, 3])).toBe(false);
  });

  it("compares text with a number read with its digits as decimals of the same scale (BigDecimal.equals)", () => {
    expect(sameValue("3.40", new JsonNumber("3.40"))).toBe(true);
    expect(sameValue("3.4", new JsonNumber("3.40"))).toBe(false);
    expect(sameValue("-12", new JsonNumber("-12"))).toBe(true);
    expect(sameValue("1E+1", new JsonNumber("10"))).toBe(false);
    expect(sameValue("abc", new JsonNumber("1"))).toBe(false);
    expect(sameValue(3.4, new JsonNumber("3.40"))).toBe(true);
    expect(sameValue({ L0: "8.90" }, { L0: new JsonNumber("8.90") })).toBe(true);
  });
});

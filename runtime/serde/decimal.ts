import { SerdeError } from "./types.ts";

const DECIMAL_TEXT = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

/**
 * Parses decimal text (Java `BigDecimal` syntax: sign, digits, point, exponent; `.5`, `1.`, `1e3`) into
 * the unscaled value at `scale`, as ksqlDB's `DecimalUtil.ensureFit`: exact only, so a value with more
 * fractional digits than `scale` (other than trailing zeros) and a value of 10^(precision-scale) or more
 * in magnitude are `SerdeError`s.
 */
export function parseDecimal(text: string, precision: number, scale: number): bigint {
  const m = DECIMAL_TEXT.exec(text);
  const intPart = m?.[2] ?? "";
  const fracPart = m?.[3] ?? "";
  if (!m || intPart.length + fracPart.length === 0) {
    throw new SerdeError(`cannot parse '${text}' as DECIMAL(${precision}, ${scale})`);
  }
  let digits = BigInt(intPart + fracPart);
  if (m[1] === "-") digits = -digits;
  const shift = Number(m[4] ?? 0) - fracPart.length + scale;
  let unscaled: bigint;
  if (shift >= 0) {
    unscaled = digits * 10n ** BigInt(shift);
  } else {
    const div = 10n ** BigInt(-shift);
    if (digits % div !== 0n) {
      throw new SerdeError(`cannot fit decimal '${text}' into DECIMAL(${precision}, ${scale}) without rounding`);
    }
    unscaled = digits / div;
  }
  const abs = unscaled < 0n ? -unscaled : unscaled;
  if (abs >= 10n ** BigInt(precision)) {
    throw new SerdeError(
      `numeric field overflow: a field with precision ${precision} and scale ${scale} must round to an ` +
        `absolute value less than 10^${precision - scale}, found ${text}`,
    );
  }
  return unscaled;
}

/** The plain text of an unscaled decimal (Java `BigDecimal.toPlainString`): one implementation, in values.ts. */
export { decimalToString as formatDecimal } from "../../src/types/values.ts";

import { type Long, normalizeLong } from "../../src/types/values.ts";
import { SerdeError, type Serde, type SerdeColumn } from "./types.ts";

/**
 * ksqlDB's KAFKA format: Kafka's own primitive serializers for a single column: INTEGER 4 bytes and
 * BIGINT 8 bytes big-endian two's complement, DOUBLE 8 bytes IEEE 754 big-endian, STRING UTF-8, BYTES
 * as is. A null column value is a null record and a null record reads as a null row. With no columns
 * it behaves as NONE.
 */
export function createKafkaSerde(column: SerdeColumn, target: string): Serde {
  const kind = column.type.kind;
  const wrongSize = (bytes: Buffer, size: number, name: string): SerdeError =>
    new SerdeError(
      `cannot deserialize the ${target}: size of data received by ${name}Deserializer is not ${size} (found ${bytes.length} bytes)`,
    );
  switch (kind) {
    case "INTEGER":
      return {
        serialize(row) {
          const v = row === null ? null : row[0];
          if (v === null || v === undefined) return null;
          const b = Buffer.allocUnsafe(4);
          b.writeInt32BE(v as number, 0);
          return b;
        },
        deserialize(bytes) {
          if (bytes === null) return null;
          if (bytes.length !== 4) throw wrongSize(bytes, 4, "Integer");
          return [bytes.readInt32BE(0)];
        },
      };
    case "BIGINT":
      return {
        serialize(row) {
          const v = row === null ? null : row[0];
          if (v === null || v === undefined) return null;
          const b = Buffer.allocUnsafe(8);
          b.writeBigInt64BE(BigInt(v as Long), 0);
          return b;
        },
        deserialize(bytes) {
          if (bytes === null) return null;
          if (bytes.length !== 8) throw wrongSize(bytes, 8, "Long");
          // High word signed, low word unsigned: exact within ±2^53 without a bigint; beyond, the bigint.
          const n = bytes.readInt32BE(0) * 0x1_0000_0000 + bytes.readUInt32BE(4);
          return [Number.isSafeInteger(n) ? n : normalizeLong(bytes.readBigInt64BE(0))];
        },
      };
    case "DOUBLE":
      return {
        serialize(row) {
          const v = row === null ? null : row[0];
          if (v === null || v === undefined) return null;
          const b = Buffer.allocUnsafe(8);
          b.writeDoubleBE(v as number, 0);
          return b;
        },
        deserialize(bytes) {
          if (bytes === null) return null;
          if (bytes.length !== 8) throw wrongSize(bytes, 8, "Double");
          return [bytes.readDoubleBE(0)];
        },
      };
    case "STRING":
      return {
        serialize(row) {
          const v = row === null ? null : row[0];
          return v === null || v === undefined ? null : Buffer.from(v as string, "utf8");
        },
        deserialize(bytes) {
          return bytes === null ? null : [bytes.toString("utf8")];
        },
      };
    case "BYTES":
      return {
        serialize(row) {
          const v = row === null ? null : (row[0] as Uint8Array | null | undefined);
          if (v === null || v === undefined) return null;
          return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
        },
        deserialize(bytes) {
          return bytes === null ? null : [bytes];
        },
      };
    default:
      throw new Error(`internal: the 'KAFKA' format does not support type '${kind}'`);
  }
}

/**
 * Kafka's default partitioner for keyed records, bit for bit: `toPositive(murmur2(keyBytes)) % n`, where
 * murmur2 is Kafka's `Utils.murmur2` (MurmurHash2, seed 0x9747b28c, little-endian 4-byte blocks) and
 * `toPositive` clears the sign bit. Using the same function as Java and kafkajs producers means a key
 * lands on the same partition whichever client wrote it, which co-partitioned joins and tables rely on.
 */

const SEED = 0x9747b28c | 0;
const M = 0x5bd1e995;

/** Kafka's `Utils.murmur2`: a signed 32-bit hash of the bytes. */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = SEED ^ length;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = data[i4]! | (data[i4 + 1]! << 8) | (data[i4 + 2]! << 16) | (data[i4 + 3]! << 24);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  const tail = length & ~3;
  // Java's switch falls through from case 3 to case 1; the multiply happens once whenever a tail exists.
  const rest = length & 3;
  if (rest > 0) {
    if (rest === 3) h ^= data[tail + 2]! << 16;
    if (rest >= 2) h ^= data[tail + 1]! << 8;
    h ^= data[tail]!;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** The partition Kafka's default partitioner picks for a non-null key among `partitions` partitions. */
export function partitionForKey(key: Uint8Array, partitions: number): number {
  return (murmur2(key) & 0x7fffffff) % partitions;
}

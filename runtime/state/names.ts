/**
 * Names that reach the file system and Kafka. Object names are user text (a quoted identifier may hold
 * `/`, `..`, NUL, any Unicode, any length) and query ids are built from them (`CTAS_<name>_<n>`), while
 * state folders (`<dataDir>/state/<id>/...`), internal and changelog topics (`_esql-<id>-...`) and
 * transactional ids (`esql-<id>-...`) are built from query ids. {@link safeName} is the one encoding
 * between the two.
 */
import { createHash } from "node:crypto";

/** Names that are their own encoding: what ordinary (unquoted or plain quoted) names give. */
const PLAIN = /^[A-Za-z0-9_-]{1,100}$/;
/** Longest part of the original name kept readable in front of the hash. */
const READABLE = 60;

/**
 * An encoding of `name` that is safe as one path segment and inside a Kafka topic name: only
 * `[A-Za-z0-9_.-]`, at most 77 characters, never `.` or `..`, no separator, no NUL.
 *
 * Names of 1-100 characters from `[A-Za-z0-9_-]` map to themselves (so folders and topics of existing
 * deployments keep their names). Any other name maps to its characters outside that set replaced by `_`,
 * cut to 60, then `.` and 16 hex digits of its SHA-256: the `.` never occurs in a name that maps to itself,
 * so two different names never share an encoding (short of a 64-bit hash collision).
 */
export function safeName(name: string): string {
  if (PLAIN.test(name)) return name;
  const readable = name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, READABLE);
  const hash = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 16);
  return `${readable}.${hash}`;
}

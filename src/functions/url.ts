/** URL functions. A URL that cannot be parsed gives NULL. */
import { scalar } from "./define.ts";
import type { ScalarFunction } from "./types.ts";

const CAT = "URL";

function parseUrl(s: string): URL | null {
  try {
    return new URL(s);
  } catch {
    return null;
  }
}

const part = (name: string, description: string, f: (u: URL) => string | number | null): ScalarFunction =>
  scalar({
    name,
    category: CAT,
    description,
    overloads: [
      {
        params: ["STRING url"],
        returns: name === "URL_EXTRACT_PORT" ? "INTEGER" : "STRING",
        impl: (s: string) => {
          const u = parseUrl(s);
          return u ? f(u) : null;
        },
      },
    ],
  });

export const urlFunctions: readonly ScalarFunction[] = [
  part("URL_EXTRACT_HOST", "The host of a URL.", (u) => u.hostname || null),
  part("URL_EXTRACT_PROTOCOL", "The protocol (scheme) of a URL.", (u) => u.protocol.replace(/:$/, "")),
  part("URL_EXTRACT_PATH", "The path of a URL.", (u) => decodeURIComponent(u.pathname)),
  part("URL_EXTRACT_QUERY", "The query of a URL, decoded.", (u) =>
    u.search ? decodeURIComponent(u.search.slice(1)) : null,
  ),
  part("URL_EXTRACT_FRAGMENT", "The fragment of a URL, decoded.", (u) =>
    u.hash ? decodeURIComponent(u.hash.slice(1)) : null,
  ),
  part("URL_EXTRACT_PORT", "The port of a URL.", (u) => (u.port ? Number(u.port) : null)),
  scalar({
    name: "URL_EXTRACT_PARAMETER",
    category: CAT,
    description: "The decoded value of a query parameter; NULL when absent.",
    overloads: [
      {
        params: ["STRING url", "STRING name"],
        returns: "STRING",
        impl: (s: string, n: string) => parseUrl(s)?.searchParams.get(n) ?? null,
      },
    ],
  }),
  scalar({
    name: "URL_ENCODE_PARAM",
    category: CAT,
    description: "Encodes text for a query parameter (spaces as +).",
    overloads: [
      {
        params: ["STRING text"],
        returns: "STRING",
        impl: (s: string) => new URLSearchParams({ x: s }).toString().slice(2),
      },
    ],
  }),
  scalar({
    name: "URL_DECODE_PARAM",
    category: CAT,
    description: "Decodes a query parameter (+ as space).",
    overloads: [
      {
        params: ["STRING text"],
        returns: "STRING",
        impl: (s: string) => decodeURIComponent(s.replace(/\+/g, " ")),
      },
    ],
  }),
];

/** Authentication: API keys (`Authorization: Bearer`) and HTTP Basic credentials, compared in constant time. */
import { timingSafeEqual } from "node:crypto";
import type { Req } from "./protocol.ts";
import type { ServerOptions } from "./server.ts";

/** Compares secrets in constant time (no early exit that would leak how much matched). */
function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Whether `req` carries credentials `auth` accepts (always, when the server has no `auth`). */
export function authorized(auth: ServerOptions["auth"], req: Req): boolean {
  if (!auth) return true;
  const header = req.headers.authorization ?? "";
  const [scheme, value = ""] = header.split(" ", 2) as [string, string | undefined];
  if (/^bearer$/i.test(scheme)) return (auth.apiKeys ?? []).some((k) => safeEqual(k, value));
  if (/^basic$/i.test(scheme)) {
    const decoded = Buffer.from(value, "base64").toString("utf8");
    const i = decoded.indexOf(":");
    if (i < 0) return false;
    const user = decoded.slice(0, i);
    const password = decoded.slice(i + 1);
    return (auth.basic ?? []).some((c) => safeEqual(c.user, user) && safeEqual(c.password, password));
  }
  return false;
}

/** Polls `check` until it holds; after `timeoutMs` fails with what `what` says about the state then. */
export async function eventually(
  check: () => Promise<boolean>,
  timeoutMs: number,
  what: () => Promise<string>,
  everyMs = 250,
): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting: ${await what()}`);
}

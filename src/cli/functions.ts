/** User functions for the CLI: `--functions PATH` (repeatable), else the `functions/` folders beside the files. */
import { functionPathsFor, loadFunctions } from "../../runtime/engine/functions.ts";
import type { FunctionRegistry } from "../functions/types.ts";

/**
 * The registry the command's statements may call: built-ins plus the user functions of `explicit` paths, or
 * of the `functions/` folder beside each `.esql` path when none is given; undefined when there are none (the
 * built-ins). Throws `FunctionLoadError` (the CLI prints it and exits 1).
 */
export async function functionsFor(
  esqlPaths: readonly string[],
  explicit: readonly string[] = [],
  options: { readonly checkDeterminism?: boolean } = {},
): Promise<FunctionRegistry | undefined> {
  const paths = functionPathsFor(esqlPaths, explicit);
  return paths.length ? loadFunctions(paths, options) : undefined;
}

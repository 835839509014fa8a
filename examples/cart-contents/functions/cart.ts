/**
 * User aggregates for carts: each folds a cart's events (ItemAdded, ItemRemoved, CheckedOut), switching
 * on the event type as an EventStoreDB projection's `when` handlers do. esql loads this folder because it
 * sits beside carts.esql (`functions/`); see docs/user-functions.md for the module format.
 */
import type { UserAggregate } from "../../../src/index.ts";

type Items = Map<string, number>;

function addQty(items: Items, sku: string | null, qty: number | null): void {
  if (sku === null || qty === null) return;
  const n = (items.get(sku) ?? 0) + qty;
  if (n > 0) items.set(sku, n);
  else items.delete(sku);
}

/** The quantity an event adds (negative: removes) for its sku. */
function delta(type: string | null, qty: number | null): number | null {
  if (qty === null) return null;
  switch (type) {
    case "ItemAdded":
      return qty;
    case "ItemRemoved":
      return -qty;
    default:
      return null; // CheckedOut and anything else leave the contents as they are
  }
}

export const CART_ITEMS = {
  kind: "aggregate",
  name: "CART_ITEMS",
  description: "A cart's contents, sku -> quantity, from its ItemAdded and ItemRemoved events.",
  params: ["STRING event_type", "STRING sku", "INTEGER qty"],
  state: "MAP<STRING, INTEGER>",
  returns: "MAP<STRING, INTEGER>",
  initialize: (): Items => new Map(),
  add: (items: Items, type: string | null, sku: string | null, qty: number | null) => {
    addQty(items, sku, delta(type, qty));
  },
  undo: (items: Items, type: string | null, sku: string | null, qty: number | null) => {
    const d = delta(type, qty);
    addQty(items, sku, d === null ? null : -d);
  },
  merge: (a: Items, b: Items) => {
    for (const [sku, qty] of b) addQty(a, sku, qty);
    return a;
  },
} satisfies UserAggregate<Items>;

/** Per sku: the quantity in the cart and the last price it was added at. */
type Lines = Map<string, { QTY: number; PRICE: number | null }>;

export const CART_TOTAL = {
  kind: "aggregate",
  name: "CART_TOTAL",
  description: "The value of a cart's contents: quantity times the price each sku was last added at.",
  params: ["STRING event_type", "STRING sku", "INTEGER qty", "DOUBLE price"],
  state: "MAP<STRING, STRUCT<qty INTEGER, price DOUBLE>>",
  returns: "DOUBLE",
  initialize: (): Lines => new Map(),
  add: (lines: Lines, type: string | null, sku: string | null, qty: number | null, price: number | null) => {
    const d = delta(type, qty);
    if (sku === null || d === null) return;
    const line = lines.get(sku) ?? { QTY: 0, PRICE: null };
    line.QTY += d;
    if (type === "ItemAdded" && price !== null) line.PRICE = price;
    if (line.QTY > 0) lines.set(sku, line);
    else lines.delete(sku);
  },
  result: (lines: Lines) => {
    let cents = 0;
    for (const { QTY, PRICE } of lines.values()) cents += Math.round(QTY * (PRICE ?? 0) * 100);
    return cents / 100;
  },
} satisfies UserAggregate<Lines>;

/**
 * @module node/slot
 * Per-node state owned by the feature that needs it, instead of a field on `Node`: a
 * feature declares its slot once, in its own module, and the core never changes for it.
 *
 * @example
 *   export const partitionRules = nodeSlot(() => new PartitionRules());
 *   partitionRules(node).set(rule);
 */
import type { Node } from "./node.ts";

/** A function that gives each node its own value, made by `create` on first use. */
export function nodeSlot<T>(create: (node: Node) => T): (node: Node) => T {
  const values = new WeakMap<Node, T>();
  return (node) => {
    let value = values.get(node);
    if (value === undefined) {
      value = create(node);
      values.set(node, value);
    }
    return value;
  };
}

/**
 * @module query/network/sql-text
 * SQL text from the expression trees of node-sql-parser, written so that SQLite and
 * PostgreSQL both read it (double-quoted names, CAST(... AS ...), every operation in
 * parentheses). A tree this module does not know is an error that names it: the planner
 * then ships the rows instead of a rewritten query.
 */

/**
 * A node of node-sql-parser's tree. Its published types are a wide union that does not
 * narrow on `type`; this module reads the few shapes it prints by their fields.
 */
export interface SqlNode {
  type: string;
  [field: string]: unknown;
}

export class UnsupportedSql extends Error {}

const isNode = (v: unknown): v is SqlNode => typeof v === "object" && v !== null && typeof (v as SqlNode).type === "string";

/** A name in double quotes (a quote inside doubled). */
export const quoteIdent = (name: string): string => `"${name.replaceAll('"', '""')}"`;

/** The column name of a column_ref (`a`, `"A b"`, `t.a`), or undefined when it is `*`. */
export function columnOf(node: SqlNode): string | undefined {
  const c = node.column;
  if (typeof c === "string") return c === "*" ? undefined : c;
  const inner = (c as { expr?: { value?: unknown } } | undefined)?.expr?.value;
  return typeof inner === "string" ? inner : undefined;
}

/** The name of a function call node (`coalesce`, `increments`). */
export function functionName(node: SqlNode): string {
  const n = node.name;
  if (typeof n === "string") return n;
  const parts = (n as { name?: Array<{ value?: unknown }> } | undefined)?.name ?? [];
  return parts.map((p) => String(p.value ?? "")).join(".");
}

/** The argument nodes of a function or aggregate call. */
export function argsOf(node: SqlNode): SqlNode[] {
  const a = node.args as { type?: string; value?: unknown; expr?: unknown } | undefined;
  if (!a) return [];
  if (a.type === "expr_list" && Array.isArray(a.value)) return a.value.filter(isNode);
  if (isNode(a.expr)) return [a.expr];
  return [];
}

const BINARY = new Set(["+", "-", "*", "/", "%", "||", "=", "<>", "!=", "<", ">", "<=", ">=", "AND", "OR", "LIKE", "NOT LIKE", "ILIKE", "NOT ILIKE", "IS", "IS NOT", "IN", "NOT IN", "BETWEEN", "NOT BETWEEN"]);

/**
 * SQL text of an expression. `replace` may answer a node's text first (a group key or an
 * aggregate the planner has rewritten); undefined prints the node as it is.
 */
export function sqlText(node: unknown, replace?: (n: SqlNode) => string | undefined): string {
  if (!isNode(node)) throw new UnsupportedSql(`an expression the network query cannot rewrite: ${JSON.stringify(node)?.slice(0, 80)}`);
  const swapped = replace?.(node);
  if (swapped !== undefined) return swapped;
  const t = (n: unknown) => sqlText(n, replace);
  switch (node.type) {
    case "column_ref": {
      const name = columnOf(node);
      if (name === undefined) return "*";
      return quoteIdent(name);
    }
    case "star":
      return "*";
    case "number":
      return String(node.value);
    case "single_quote_string":
      // node-sql-parser keeps the text between the quotes as written ('' for a quote)
      return `'${String(node.value)}'`;
    case "bool":
      return node.value ? "TRUE" : "FALSE";
    case "null":
      return "NULL";
    case "expr_list":
      return `(${(node.value as unknown[]).map(t).join(", ")})`;
    case "unary_expr": {
      const op = String(node.operator).toUpperCase();
      return `(${op}${op === "NOT" ? " " : ""}${t(node.expr)})`;
    }
    case "binary_expr": {
      const op = String(node.operator).toUpperCase();
      if (!BINARY.has(op)) throw new UnsupportedSql(`the operator ${op}`);
      if (op === "BETWEEN" || op === "NOT BETWEEN") {
        const [lo, hi] = (node.right as SqlNode).value as unknown[];
        return `(${t(node.left)} ${op} ${t(lo)} AND ${t(hi)})`;
      }
      return `(${t(node.left)} ${op} ${t(node.right)})`;
    }
    case "function":
      return `${functionName(node)}(${argsOf(node).map(t).join(", ")})`;
    case "aggr_func": {
      const distinct = (node.args as { distinct?: unknown } | undefined)?.distinct ? "DISTINCT " : "";
      const args = argsOf(node);
      return `${String(node.name).toUpperCase()}(${distinct}${args.length === 0 ? "*" : args.map(t).join(", ")})`;
    }
    case "cast": {
      const target = (node.target as Array<{ dataType?: string }> | undefined)?.[0]?.dataType;
      if (!target) throw new UnsupportedSql("a CAST without a type");
      return `CAST(${t(node.expr)} AS ${target})`;
    }
    case "case": {
      const parts = (node.args as SqlNode[]).map((a) => (a.type === "when" ? `WHEN ${t(a.cond)} THEN ${t(a.result)}` : `ELSE ${t(a.result)}`));
      return `(CASE${node.expr ? ` ${t(node.expr)}` : ""} ${parts.join(" ")} END)`;
    }
    default:
      throw new UnsupportedSql(`a ${node.type} expression`);
  }
}

/** Every node of a tree, depth first (arrays and objects walked alike). */
export function* nodesOf(value: unknown): Generator<SqlNode> {
  if (Array.isArray(value)) {
    for (const v of value) yield* nodesOf(v);
    return;
  }
  if (typeof value !== "object" || value === null) return;
  if (isNode(value)) yield value;
  for (const v of Object.values(value)) if (typeof v === "object" && v !== null) yield* nodesOf(v);
}

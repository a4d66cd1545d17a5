/**
 * @module metadata/commands
 * Policies from the command line: `create policy`, `blockchain prepare policy`,
 * `blockchain insert`, `blockchain get`, `blockchain delete policy`, and the two commands a
 * master answers for syncing nodes: `blockchain push` and `blockchain pull`.
 */
import type { CommandContext } from "../commands/context.ts";
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { applyBring, parseBring } from "./bring.ts";
import { type LocalCopy, idOf } from "./local-copy.ts";
import { LEDGER_DBMS, changesSince, deletePolicy, insertPolicy, requireLedger } from "./master-ledger.ts";
import { policyFromOptions, preparePolicy } from "./policy.ts";

/** This node's ledger table (a master's), or the error that says how to make one. */
const nodeLedger = (ctx: CommandContext) => requireLedger(ctx.node.databases.get(LEDGER_DBMS));

/** Changes the local copy and writes it when something changed. */
function saveLocal(ctx: CommandContext, change: (copy: LocalCopy) => boolean): Result<boolean> {
  const local = ctx.node.metadata.local();
  if (!local.ok) return local;
  const changed = change(local.value);
  if (changed) {
    const saved = local.value.save();
    if (!saved.ok) return saved;
  }
  return ok(changed);
}

addCommands(
  command({
    words: ["create", "policy"],
    summary: "Builds a policy from options: create policy <type> where k = v and ...",
    method: "GET",
    positional: [{ name: "type", type: "str", help: "policy type (cluster, operator, ...)" }],
    anyOption: true,
    examples: ['new_policy = create policy cluster where name = my-cluster and company = "My Company"'],
    handler: (_ctx, args) => policyFromOptions(args.str("type", ""), args.options),
  }),
  command({
    words: ["blockchain", "prepare", "policy"],
    summary: "Validates a policy and adds its id (a hash of its content) and date",
    method: "GET",
    positional: [{ name: "policy", type: "json", help: "the policy JSON, or !name of one" }],
    handler: (_ctx, args) => preparePolicy(args.json("policy")),
  }),
  command({
    words: ["blockchain", "insert"],
    summary: "Adds a policy to the local copy and/or the master; a policy already there is left as it is",
    method: "POST",
    options: {
      policy: { type: "json", help: "the policy JSON, or !name of one", required: true },
      local: { type: "bool", help: "write the local copy" },
      master: { type: "ipport", help: "the master node (ip:port)" },
      blockchain: { type: "str", help: "a blockchain platform (not in this build)" },
    },
    examples: ["blockchain insert where policy = !new_policy and local = true and master = !ledger_conn"],
    async handler(ctx, args) {
      if (args.has("blockchain")) return fail("unavailable", "blockchain platforms are not in this build: use a master node (master = ip:port)");
      return ctx.node.metadata.insert(args.json("policy"), { local: args.bool("local", false), master: args.str("master") });
    },
  }),
  command({
    words: ["blockchain", "get"],
    summary: "Policies of a type, filtered by attributes: blockchain get <type|*|(t1, t2)> where k = v bring ...",
    method: "GET",
    positional: [{ name: "type", type: "list", help: "policy type, * or (type1, type2)" }],
    anyOption: true,
    tail: { name: "bring", keyword: "bring", keepKeyword: true, help: "what to bring: bring.first [a][b], bring.count, ...", substitute: true },
    examples: [
      "blockchain get operator where company = anylog bring [operator][ip] \":\" [operator][port] separator = ,",
      "blockchain get cluster where name = my-cluster bring.first [*][id]",
      "blockchain get * bring.count",
    ],
    handler(ctx, args) {
      const local = ctx.node.metadata.local();
      if (!local.ok) return local;
      const types = args.list("type").map((t) => t.toLowerCase());
      const filters: Array<[string, string]> = [];
      for (const [k, v] of Object.entries(args.options)) for (const one of Array.isArray(v) ? v : [v]) filters.push([k, String(one)]);
      const bring = args.tail !== undefined ? parseBring(args.tail) : undefined;
      if (bring && !bring.ok) return bring;
      return ok(applyBring(local.value.select(types, filters), bring?.value));
    },
  }),
  command({
    words: ["blockchain", "delete", "policy"],
    summary: "Removes a policy by its id: from the master (master = ip:port), this node's ledger and its local copy",
    method: "POST",
    options: {
      id: { type: "str", help: "policy id", required: true },
      local: { type: "bool", help: "also the local copy (default true)" },
      master: { type: "ipport", help: "the master node (ip:port)" },
    },
    async handler(ctx, args) {
      const id = args.str("id", "");
      const master = args.str("master");
      if (master) {
        const r = await ctx.node.metadata.deleteOnMaster(master, id);
        if (!r.ok) return r;
      }
      let found = false;
      const ledger = await nodeLedger(ctx);
      if (ledger.ok) {
        // this node is a master: the deletion is a change its syncing nodes pull
        const r = await deletePolicy(ledger.value, id);
        if (!r.ok) return r;
        found = r.value;
      }
      if (args.bool("local", true)) {
        const saved = saveLocal(ctx, (copy) => copy.remove(id));
        if (!saved.ok) return saved;
        found ||= saved.value;
      }
      if (!found && !master) return fail("not_found", `no policy with id '${id}'`);
      return ok(`policy ${id} deleted`);
    },
  }),
  command({
    words: ["blockchain", "push"],
    summary: "(master) Adds a prepared policy to this node's ledger table; sent by 'blockchain insert' on other nodes",
    method: "POST",
    options: { policy: { type: "json", help: "the policy JSON", required: true } },
    async handler(ctx, args) {
      const db = await nodeLedger(ctx);
      if (!db.ok) return db;
      const prepared = preparePolicy(args.json("policy"));
      if (!prepared.ok) return prepared;
      const admitted = await ctx.node.metadata.admit(db.value, prepared.value);
      if (!admitted.ok) return admitted;
      const r = await insertPolicy(db.value, prepared.value, ctx.peer ?? ctx.source);
      return r.ok ? ok({ inserted: r.value.inserted, id: idOf(prepared.value), seq: r.value.seq }) : r;
    },
  }),
  command({
    words: ["blockchain", "pull"],
    summary: "(master) The ledger changes after a change number; asked by syncing nodes",
    method: "GET",
    options: { since: { type: "int", help: "the last change number the asker has", required: true } },
    async handler(ctx, args) {
      const db = await nodeLedger(ctx);
      if (!db.ok) return db;
      return changesSince(db.value, args.int("since", 0));
    },
  }),
);

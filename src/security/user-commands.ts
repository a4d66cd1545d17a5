/**
 * @module security/user-commands
 * The commands of REST users (security/users): `set user authentication on | off`, `id add
 * user`, `id remove user`, `id update user password`, `get users`. Authentication cannot be
 * turned on without an admin who could turn it off again.
 */
import { command } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { fail, ok } from "../util/result.ts";
import { textTable } from "../util/text-table.ts";
import { type UserType, parseDuration, usersOf } from "./users.ts";

addCommands(
  command({
    words: ["set", "user", "authentication"],
    peer: false,
    summary: "Whether REST requests must carry a user's HTTP Basic credentials: on or off",
    method: "POST",
    positional: [{ name: "state", type: "bool", help: "on or off" }],
    examples: ["set user authentication on", "set user authentication off"],
    handler(ctx, args) {
      const on = args.bool("state", false);
      const enabled = usersOf(ctx.node).enable(on);
      return enabled.ok ? ok(`User authentication ${on ? "on" : "off"}`) : enabled;
    },
  }),
  command({
    words: ["id", "add", "user"],
    peer: false,
    summary: "Adds a REST user: a user reads (GET), an admin also changes the node (POST, PUT)",
    method: "POST",
    options: {
      name: { type: "str", help: "user name", required: true },
      password: { type: "str", help: "password (8 characters or more); kept only as its argon2id hash", required: true },
      type: { type: "str", help: "admin or user (the default)" },
      expiration: { type: "str", help: "how long the user is valid, e.g. \"2 hours\" (default: no end)" },
      if_missing: { type: "bool", help: "a user of that name is left as it is (a role file's first admin, made at first boot only)" },
    },
    examples: ['id add user where name = ops and password = !ops_password and type = admin', 'id add user where name = grafana and password = !grafana_password and expiration = "30 days"'],
    async handler(ctx, args) {
      const name = args.str("name", "");
      if (args.bool("if_missing", false) && usersOf(ctx.node).list().some((u) => u.name === name)) return ok(`User '${name}' exists: left as it is`);
      const type = (args.str("type") ?? "user").toLowerCase();
      if (type !== "admin" && type !== "user") return fail("bad_value", `type '${type}' is not admin or user`);
      const expiration = args.str("expiration");
      const ms = expiration === undefined ? ok(undefined) : parseDuration(expiration);
      if (!ms.ok) return ms;
      const added = await usersOf(ctx.node).add(args.str("name", ""), args.str("password", ""), type as UserType, ms.value);
      return added.ok ? ok(`User '${args.str("name")}' added (${type})`) : added;
    },
  }),
  command({
    words: ["id", "remove", "user"],
    peer: false,
    summary: "Removes a REST user",
    method: "POST",
    options: { name: { type: "str", help: "user name", required: true } },
    handler(ctx, args) {
      const removed = usersOf(ctx.node).remove(args.str("name", ""));
      return removed.ok ? ok(`User '${args.str("name")}' removed`) : removed;
    },
  }),
  command({
    words: ["id", "update", "user", "password"],
    peer: false,
    summary: "Changes a REST user's password, given the old one",
    method: "POST",
    options: {
      name: { type: "str", help: "user name", required: true },
      old: { type: "str", help: "the password now", required: true },
      new: { type: "str", help: "the new password (8 characters or more)", required: true },
    },
    async handler(ctx, args) {
      const updated = await usersOf(ctx.node).updatePassword(args.str("name", ""), args.str("old", ""), args.str("new", ""));
      return updated.ok ? ok(`Password of '${args.str("name")}' changed`) : updated;
    },
  }),
  command({
    words: ["get", "users"],
    summary: "The REST users: name, type, expiration (never a password), and whether authentication is on",
    method: "GET",
    options: { format: { type: "str", help: "json or table" } },
    handler(ctx, args) {
      const users = usersOf(ctx.node);
      const list = users.list();
      if (args.str("format") === "json") return ok({ authentication: users.enabled ? "on" : "off", users: list });
      return ok(`User authentication: ${users.enabled ? "on" : "off"}\n${textTable(["User", "Type", "Expires", "Created"], list.map((u) => [u.name, u.type, u.expires ?? "", u.created]))}`);
    },
  }),
);

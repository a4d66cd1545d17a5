/**
 * @module security/paths
 * Where a path named by a request from REST or a peer may point: under the node's home
 * (`anylog_path`, where every data directory of the node is) or the system's temporary
 * directory (uploads and exports), after symbolic links are followed as far as the path
 * exists. Anything else — `/etc`, a device's system files, another user's home — is refused
 * naming the path, so `process /etc/shadow` or `run operator where watch_dir = /etc ...`
 * sent by anyone who reaches the port does nothing. The console and scripts (the device's
 * own administrator) name any path.
 */
import { realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, isAbsolute, relative, resolve } from "node:path";
import type { CommandContext } from "../commands/context.ts";
import { type Result, fail, ok } from "../util/result.ts";

/** The path with every symbolic link of its existing part followed. */
function real(path: string): string {
  let existing = path;
  let rest = "";
  for (;;) {
    try {
      return resolve(realpathSync(existing), rest);
    } catch {
      const parent = dirname(existing);
      if (parent === existing) return path;
      rest = rest ? `${existing.slice(parent.length + 1)}/${rest}` : existing.slice(parent.length + 1);
      existing = parent;
    }
  }
}

const inside = (root: string, path: string) => {
  const r = relative(root, path);
  return r === "" || (!r.startsWith("..") && !isAbsolute(r));
};

/** Refuses a path a remote request may not name; `what` says which option it came in. */
export function checkRemotePath(ctx: CommandContext, path: string, what: string): Result<void> {
  if (ctx.source !== "rest" && ctx.source !== "peer") return ok(undefined);
  const home = ctx.node.dictionary.lookup("anylog_path") ?? process.cwd();
  const target = real(resolve(home, path));
  const roots = [home, tmpdir()].map((r) => real(resolve(r)));
  if (roots.some((r) => inside(r, target))) return ok(undefined);
  return fail("forbidden", `${what} '${path}' is outside this node's directories (${roots.join(", ")}): a request over REST or from a peer names paths there only`);
}

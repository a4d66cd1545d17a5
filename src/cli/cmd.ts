/**
 * @module cli/cmd
 * `anylog cmd`: one command to a running node's REST server; prints the reply, exit 1 on error.
 */
export async function cmd(options: { node: string; post: boolean; command: string }): Promise<number> {
  const url = `http://${options.node}/`;
  let response: Response;
  try {
    response = await fetch(url, { ...commandRequest(options.command, options.post), signal: AbortSignal.timeout(60_000) });
  } catch (e) {
    process.stderr.write(`cannot reach the node at ${options.node}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // not JSON: print as it came
    }
    process.stderr.write(`Error (${response.status}): ${message}\n`);
    return 1;
  }
  if (text !== "") process.stdout.write(text.endsWith("\n") ? text : `${text}\n`);
  return 0;
}

/**
 * The request carrying `command`. The REST server reads header bytes as UTF-8, but Bun's
 * fetch refuses a header string holding any non-ASCII character, except a string stored
 * as Latin-1, whose characters it sends as UTF-8. So a command within Latin-1 (`echo
 * Zürich`) goes in the `command` header as such a string; one beyond it (`echo 日本`)
 * cannot travel in a header from here and goes as a JSON body by POST, which the server
 * takes for read commands too.
 */
export function commandRequest(command: string, post: boolean): { method: string; headers: Record<string, string>; body?: string } {
  const agent = { "User-Agent": "AnyLog/1.23" };
  if (/^[\x00-\x7f]*$/.test(command)) return { method: post ? "POST" : "GET", headers: { ...agent, command } };
  if (/^[\x00-\xff]*$/.test(command)) {
    return { method: post ? "POST" : "GET", headers: { ...agent, command: Buffer.from(command, "latin1").toString("latin1") } };
  }
  return { method: "POST", headers: { ...agent, "content-type": "application/json" }, body: JSON.stringify({ command }) };
}

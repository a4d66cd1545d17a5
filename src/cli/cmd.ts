/**
 * @module cli/cmd
 * `anylog cmd`: one command to a running node's REST server; prints the reply, exit 1 on error.
 */
export async function cmd(options: { node: string; post: boolean; command: string }): Promise<number> {
  const url = `http://${options.node}/`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: options.post ? "POST" : "GET",
      headers: { command: options.command, "User-Agent": "AnyLog/1.23" },
      signal: AbortSignal.timeout(60_000),
    });
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

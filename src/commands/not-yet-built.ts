/**
 * @module commands/not-yet-built
 * Commands of the seeds whose parts this build does not have yet (metadata, storage,
 * operator). They are declared with their real arguments, so scripts parse and `help`
 * documents them; running one answers that it is not in this build. Each moves to the
 * module of its part when that part is built, and leaves this list.
 */
import { fail } from "../util/result.ts";
import type { CommandSpec } from "./spec.ts";
import { addCommand } from "./table.ts";

const OPERATOR = "the operator issue, #4";

function later(spec: Omit<CommandSpec, "handler">, comesWith: string): void {
  addCommand({
    ...spec,
    handler: () => fail("unavailable", `'${spec.words.join(" ")}' is not in this build yet (${comesWith})`),
  });
}

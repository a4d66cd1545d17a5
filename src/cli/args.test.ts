/** The executable's command line: each call's options in both spellings, repeated --set, and every mistake an error naming it. */
import { expect, test } from "bun:test";
import { parseInvocation } from "./args.ts";

const value = (argv: string[]) => {
  const r = parseInvocation(argv);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
};
const error = (argv: string[]) => {
  const r = parseInvocation(argv);
  if (r.ok) throw new Error(`accepted: ${argv.join(" ")}`);
  return r.error.message;
};

test("start: --config, --script in both spellings, --set repeated, keys in lower case", () => {
  expect(value(["start", "--config", "a.yaml", "--script=b.al", "--set", "Node_Name=n1", "--set=x=a=b"])).toEqual({
    call: "start",
    config: "a.yaml",
    script: "b.al",
    set: { node_name: "n1", x: "a=b" },
  });
  expect(value(["start"])).toEqual({ call: "start", config: undefined, script: undefined, set: {} });
});

test("plan, check, cmd, script, version, help", () => {
  expect(value(["plan", "--config", "x.yaml"])).toEqual({ call: "plan", config: "x.yaml" });
  expect(value(["check"])).toEqual({ call: "check", config: undefined });
  expect(value(["cmd", "--node", "10.0.0.1:32149", "--post", "set", "a", "=", "1"])).toEqual({ call: "cmd", node: "10.0.0.1:32149", post: true, command: "set a = 1" });
  expect(value(["cmd", "get", "status"])).toEqual({ call: "cmd", node: "127.0.0.1:32049", post: false, command: "get status" });
  expect(value(["script", "f.al"])).toEqual({ call: "script", file: "f.al" });
  expect(value(["--version"])).toEqual({ call: "version" });
  expect(value([])).toEqual({ call: "help" });
});

test("mistakes name what is wrong", () => {
  expect(error(["start", "--conifg", "a"])).toMatch(/unknown option '--conifg'.*--config/);
  expect(error(["start", "--config"])).toMatch(/'--config <value>' is missing its value/);
  expect(error(["start", "--set", "novalue"])).toMatch(/KEY=VALUE/);
  expect(error(["start", "stray"])).toMatch(/unexpected argument 'stray'/);
  expect(error(["cmd", "--post=yes", "get", "status"])).toMatch(/takes no value/);
  expect(error(["cmd"])).toMatch(/needs a command/);
  expect(error(["script"])).toMatch(/one FILE/);
  expect(error(["launch"])).toMatch(/unknown call 'launch'/);
});

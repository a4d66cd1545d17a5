import { describe, expect, test } from "bun:test";
import { stripComment, tokenText, tokenize } from "./tokens.ts";

const kinds = (text: string) => {
  const r = tokenize(text);
  if (!r.ok) throw new Error(r.error.message);
  return r.value.map((t) => `${t.kind}:${tokenText(t)}`);
};

describe("tokenize", () => {
  test("words, operators, strings, groups, JSON and paths", () => {
    expect(kinds(`a = "b c" and d=(x, y) {"k": [1]} bring [op][ip] ":" !p.int $HOME`)).toEqual([
      "word:a", "op:=", 'string:"b c"', "word:and", "word:d", "op:=", "group:(x, y)",
      'json:{"k": [1]}', "word:bring", "path:[op][ip]", 'string:":"', "word:!p.int", "word:$HOME",
    ]);
  });
  test("comparison operators and !var stay apart", () => {
    expect(kinds("if !a != 3 and !b==4")).toEqual(["word:if", "word:!a", "op:!=", "word:3", "word:and", "word:!b", "op:==", "word:4"]);
  });
  test("a comment ends the line, but # in quotes stays", () => {
    expect(kinds(`echo "a # b" # comment`)).toEqual(["word:echo", 'string:"a # b"']);
  });
  test("groups nest and keep positions of the whole line", () => {
    const r = tokenize("t=(a=(b=1))");
    expect(r.ok).toBe(true);
    if (r.ok && r.value[2]?.kind === "group") {
      const inner = r.value[2].items[2];
      expect(inner?.kind).toBe("group");
      expect(inner?.pos).toBe(5);
    }
  });
  test("unbalanced brackets and quotes are errors with a column", () => {
    for (const bad of ['echo "abc', "run (a, b", "x = {\"a\": 1", "get ]", "[a"]) {
      const r = tokenize(bad);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(/column \d+/);
    }
  });
});

describe("stripComment", () => {
  test("keeps # inside JSON and strings", () => {
    expect(stripComment(`run data distributor  # Optional`)).toBe("run data distributor");
    expect(stripComment(`x = {"a": "#1"} # note`)).toBe(`x = {"a": "#1"}`);
    expect(stripComment(`a#b`)).toBe("a#b");
  });
});

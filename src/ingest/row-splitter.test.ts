/** RowSplitter: any cut of the text into pieces gives the same rows as parsing it whole; malformed bodies are errors naming where. */
import { expect, test } from "bun:test";
import { RowSplitter } from "./row-splitter.ts";
import { parseRows } from "./rows.ts";

function split(text: string, pieceSize: number, chunkBytes = 64) {
  const chunks: string[] = [];
  const s = new RowSplitter((c) => chunks.push(c), chunkBytes);
  for (let i = 0; i < text.length; i += pieceSize) s.push(text.slice(i, i + pieceSize));
  const end = s.end();
  const rows = chunks.flatMap((c) => {
    const r = parseRows(c);
    if (!r.ok) throw new Error(r.error.message);
    return r.value;
  });
  return { end, rows, chunks };
}

const rows = Array.from({ length: 40 }, (_, i) => ({ id: i, s: `a "quoted" } ] , \\ text ${i}`, nested: { list: [1, [2, { x: "}" }]] }, v: i * 1.5 }));
const forms = {
  array: JSON.stringify(rows),
  "array, spaced": `  [\n${rows.map((r) => `  ${JSON.stringify(r, null, 2)}`).join(" ,\n")}\n]\n`,
  "one per line": rows.map((r) => JSON.stringify(r)).join("\n"),
  "objects over lines": rows.map((r) => JSON.stringify(r, null, 2)).join("\n\n"),
  "one object": JSON.stringify(rows[0]),
};

for (const [name, text] of Object.entries(forms)) {
  test(`${name}: every cut into pieces gives the rows of the whole`, () => {
    // objects over several lines one after another: the splitter takes them (parseRows of a small body does not)
    const whole = parseRows(name === "objects over lines" ? forms.array : text);
    if (!whole.ok) throw new Error(whole.error.message);
    for (const piece of [1, 2, 3, 7, 64, 1000, text.length]) {
      const r = split(text, piece);
      expect(r.end.ok).toBe(true);
      expect(r.rows).toEqual(whole.value);
    }
    if (whole.value.length > 1) expect(split(text, 5).chunks.length).toBeGreaterThan(1);
  });
}

test("malformed bodies are errors that say where", () => {
  const bad: Array<[string, RegExp]> = [
    ["", /empty/],
    ["   \n ", /empty/],
    ["[]", /empty/],
    ['[{"a":1}', /no closing/],
    ['[{"a":1},{"a":2', /cut short/],
    ['{"a": "open string', /cut short/],
    ['[{"a":1}] {"b":2}', /after the array/],
    ['[{"a":1}{"a":2}]', /no ','/],
    ['[{"a":1},,{"a":2}]', /','/],
    ['[,{"a":1}]', /','/],
    ['[{"a":1},]', /before its closing/],
  ];
  for (const [text, why] of bad) {
    const r = split(text, 3);
    expect(r.end.ok).toBe(false);
    if (!r.end.ok) expect(r.end.error.message).toMatch(why);
  }
});

test("what the splitter passes but is not rows is refused by parseRows", () => {
  for (const text of ['{"a":1} 5', '{"a":1}\n{"a":}', '[{"a":1}, 7]']) {
    const chunks: string[] = [];
    const s = new RowSplitter((c) => chunks.push(c));
    s.push(text);
    const end = s.end();
    expect(end.ok && chunks.every((c) => parseRows(c).ok)).toBe(false);
  }
});

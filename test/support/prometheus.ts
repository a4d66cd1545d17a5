/**
 * @module test/support/prometheus
 * A strict parser of the Prometheus text exposition format (version 0.0.4), for tests: every
 * sample must belong to a family declared before it by both `# HELP` and `# TYPE`, a family is
 * declared once, names and label names are valid, label values are escaped properly, values
 * are numbers, and no line is left unread. Anything else throws naming the line.
 */

export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram" | "summary" | "untyped";
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** The families of a /metrics body, by name. */
export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  const families = new Map<string, ParsedFamily>();
  const help = new Map<string, string>();
  if (!text.endsWith("\n")) throw new Error("the exposition does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  lines.forEach((line, i) => {
    const where = `line ${i + 1} '${line}'`;
    if (line.startsWith("# HELP ")) {
      const m = /^# HELP (\S+) (.*)$/.exec(line);
      if (!m || !NAME.test(m[1]!)) throw new Error(`bad HELP at ${where}`);
      if (help.has(m[1]!)) throw new Error(`HELP given twice for ${m[1]} at ${where}`);
      if (/\\[^\\n]/.test(m[2]!.replace(/\\\\/g, ""))) throw new Error(`bad escape in HELP at ${where}`);
      help.set(m[1]!, m[2]!);
      return;
    }
    if (line.startsWith("# TYPE ")) {
      const m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line);
      if (!m) throw new Error(`bad TYPE at ${where}`);
      const name = m[1]!;
      if (families.has(name)) throw new Error(`family ${name} declared twice at ${where}`);
      if (!help.has(name)) throw new Error(`TYPE before HELP (or no HELP) for ${name} at ${where}`);
      families.set(name, { name, help: help.get(name)!, type: m[2] as ParsedFamily["type"], samples: [] });
      return;
    }
    if (line.startsWith("#")) return; // a comment
    if (line.trim() === "") throw new Error(`empty line at ${where}`);
    const sample = parseSample(line, where);
    const family = families.get(sample.name);
    if (!family) throw new Error(`sample of ${sample.name} without HELP and TYPE before it at ${where}`);
    const key = JSON.stringify(Object.entries(sample.labels).sort());
    if (family.samples.some((s) => JSON.stringify(Object.entries(s.labels).sort()) === key)) throw new Error(`the same series twice at ${where}`);
    family.samples.push(sample);
  });
  for (const name of help.keys()) if (!families.has(name)) throw new Error(`HELP without TYPE for ${name}`);
  return families;
}

function parseSample(line: string, where: string): ParsedSample {
  const nameMatch = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
  if (!nameMatch) throw new Error(`bad metric name at ${where}`);
  const name = nameMatch[1]!;
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const m = /^([a-zA-Z_][a-zA-Z0-9_]*)="/.exec(rest);
      if (!m || !LABEL.test(m[1]!)) throw new Error(`bad label at ${where}`);
      rest = rest.slice(m[0].length);
      let value = "";
      for (;;) {
        const c = rest[0];
        if (c === undefined) throw new Error(`unterminated label value at ${where}`);
        rest = rest.slice(1);
        if (c === '"') break;
        if (c === "\\") {
          const e = rest[0];
          rest = rest.slice(1);
          if (e === "\\") value += "\\";
          else if (e === '"') value += '"';
          else if (e === "n") value += "\n";
          else throw new Error(`bad escape \\${e} in a label value at ${where}`);
        } else if (c === "\n") throw new Error(`raw newline in a label value at ${where}`);
        else value += c;
      }
      if (m[1]! in labels) throw new Error(`label ${m[1]} twice at ${where}`);
      labels[m[1]!] = value;
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) throw new Error(`expected , or } at ${where}`);
    }
    rest = rest.slice(1);
  }
  const m = /^ (\S+)(?: (-?\d+))?$/.exec(rest);
  if (!m) throw new Error(`bad value part at ${where}`);
  const v = m[1]!;
  const value = v === "+Inf" ? Infinity : v === "-Inf" ? -Infinity : v === "NaN" ? NaN : Number(v);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) && !["+Inf", "-Inf", "NaN"].includes(v)) throw new Error(`value '${v}' is not a number at ${where}`);
  return { name, labels, value };
}

/** One series' value: the family's sample whose labels include `labels`; throws when there is none. */
export function valueOf(families: Map<string, ParsedFamily>, name: string, labels: Record<string, string> = {}): number {
  const f = families.get(name);
  if (!f) throw new Error(`no family ${name}`);
  const s = f.samples.find((x) => Object.entries(labels).every(([k, v]) => x.labels[k] === v));
  if (!s) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return s.value;
}

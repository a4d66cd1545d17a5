/** MQTT topic filters: `+` one level, `#` the rest (and the parent), `$` topics kept from wildcards. */
import { expect, test } from "bun:test";
import { topicMatches, validFilter } from "./topics.ts";

test("MQTT wildcards match as MQTT defines them", () => {
  const cases: Array<[string, string, boolean]> = [
    ["a/b", "a/b", true],
    ["a/b", "a/b/c", false],
    ["a/+", "a/b", true],
    ["a/+", "a/b/c", false],
    ["a/+/c", "a/x/c", true],
    ["+/+", "a/b", true],
    ["+", "a", true],
    ["+", "a/b", false],
    ["a/#", "a", true],
    ["a/#", "a/b/c", true],
    ["#", "a/b", true],
    ["#", "$SYS/x", false],
    ["+/x", "$SYS/x", false],
    ["$SYS/#", "$SYS/x", true],
    ["a/b", "a/bc", false],
    ["sensors", "sensors/1", false],
  ];
  for (const [filter, topic, want] of cases) expect([filter, topic, topicMatches(filter, topic)]).toEqual([filter, topic, want]);
  expect(["a/#", "#", "a/+/b", "+"].every(validFilter)).toBe(true);
  expect(["a/#/b", "a#", "a/b+", ""].some(validFilter)).toBe(false);
});

/**
 * @module messaging/topics
 * MQTT topic filters as MQTT defines them: levels split by `/`, `+` one whole level, `#` the
 * rest (only as the last level, and matching the parent too: `a/#` matches `a`); a filter
 * with a wildcard does not match topics that begin with `$` at the first level.
 */

/** Whether `filter` is a valid MQTT topic filter (wildcards only as whole levels, `#` last). */
export function validFilter(filter: string): boolean {
  if (filter === "") return false;
  const levels = filter.split("/");
  return levels.every((l, i) => (l.includes("#") ? l === "#" && i === levels.length - 1 : !l.includes("+") || l === "+"));
}

/** Whether `topic` (no wildcards) matches `filter`. */
export function topicMatches(filter: string, topic: string): boolean {
  if (filter === topic) return true;
  const f = filter.split("/");
  const t = topic.split("/");
  if ((f[0] === "+" || f[0] === "#") && t[0]!.startsWith("$")) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === "#") return true;
    if (i >= t.length) return false;
    if (f[i] !== "+" && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

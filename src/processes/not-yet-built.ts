/**
 * @module processes/not-yet-built
 * The background processes of seed 004 that this build does not run yet. Each is declared
 * with its `run ...` command and options, so scripts parse and `get processes` lists it as
 * "Not declared"; running it answers that it is not in this build. Each moves to its own
 * folder under `processes/` when it is built, and leaves this list.
 */
import { notYetBuilt } from "./registry.ts";

const bool = (help: string) => ({ type: "bool", help }) as const;
const str = (help: string) => ({ type: "str", help }) as const;
const dir = (help: string) => ({ type: "str", help: `${help} directory` }) as const;

notYetBuilt({
  name: "SMTP",
  order: 120,
  aliases: ["smtp", "smtp client"],
  comesWith: "the SMTP work",
  run: {
    words: ["run", "smtp", "client"],
    peer: false,
    summary: "Sends alert emails and SMS through an SMTP server",
    options: { host: str("SMTP server"), port: { type: "int", help: "SMTP port" }, email: str("sender address"), password: str("sender password"), ssl: bool("use TLS") },
  },
});

notYetBuilt({
  name: "Kafka Consumer",
  order: 150,
  aliases: ["kafka", "kafka consumer"],
  comesWith: "the Kafka work",
  run: {
    words: ["run", "kafka", "consumer"],
    peer: false,
    summary: "Reads Kafka topics and maps messages to table rows",
    options: {
      ip: str("Kafka host"),
      port: { type: "int", help: "Kafka port" },
      reset: str("earliest or latest"),
      topic: { type: "nested", multiple: true, help: "a topic and its mapping", options: { name: str("topic"), dbms: str("database"), table: str("table") }, patterns: [{ prefix: "column.", spec: { type: "any", help: "column mapping" } }] },
    },
  },
});

/**
 * @module processes/not-yet-built
 * The background processes of seed 004 that this build does not run yet. Each is declared
 * with its `run ...` command and options, so scripts parse and `get processes` lists it as
 * "Not declared"; running it answers that it is not in this build. Each moves to its own
 * folder under `processes/` when it is built, and leaves this list.
 */
import { strOption } from "../commands/spec.ts";
import { notYetBuilt } from "./registry.ts";

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
      ip: strOption("Kafka host"),
      port: { type: "int", help: "Kafka port" },
      reset: strOption("earliest or latest"),
      topic: { type: "nested", multiple: true, help: "a topic and its mapping", options: { name: strOption("topic"), dbms: strOption("database"), table: strOption("table") }, patterns: [{ prefix: "column.", spec: { type: "any", help: "column mapping" } }] },
    },
  },
});

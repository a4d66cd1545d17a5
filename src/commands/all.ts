/**
 * @module commands/all
 * The only list of command modules: importing one adds its commands to the table.
 */
import "./help.ts";
import "./status.ts";
import "./dictionary.ts";
import "./processes.ts";
import "./scripts.ts";
import "./peers.ts";
import "./trace.ts";
import "../storage/commands.ts";
import "../metadata/commands.ts";
import "../query/commands.ts";
import "../query/network/catalog.ts";
import "../query/network/query-log.ts";
import "../ingest/commands.ts";
import "../monitoring/commands.ts";
import "../ha/commands.ts";
import "../blobs/commands.ts";
import "../security/commands.ts";
import "../security/user-commands.ts";
import "../security/member-commands.ts";

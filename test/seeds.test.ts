/**
 * Every `anylog` block of the five seed documents (and the command examples of seed 004)
 * parses into the command and options the seed means. Seeds are read from ../shared/seeds;
 * where that folder is absent the test says it skipped.
 */
import { describe, expect, test } from "bun:test";
import "../src/commands/all.ts";
import "../src/processes/all.ts";
import type { RawOption, Statement } from "../src/language/ast.ts";
import { parseStatement } from "../src/language/parser.ts";
import { readScript, type ScriptItem } from "../src/language/script.ts";
import { tokenText } from "../src/language/tokens.ts";
import { processDefinitions } from "../src/processes/registry.ts";
import { SEEDS, seedText, seedsPresent } from "./support/seeds.ts";

if (!seedsPresent) console.warn(`seed tests skipped: ${SEEDS} is absent (CI has it beside the checkout)`);

/** The command blocks of a seed: ```anylog fences, and <pre> blocks that hold commands. */
function blocks(text: string): string[] {
  const fenced = [...text.matchAll(/```anylog[^\n]*\n([\s\S]*?)```/g)].map((m) => m[1]!);
  const pre = [...text.matchAll(/<pre>\s*\n?([\s\S]*?)<\/pre>/g)]
    .map((m) => m[1]!)
    .filter((b) => /^\s*(run|get|exit|set|trace)\b/i.test(b));
  return [...fenced, ...pre];
}

const options = (list: RawOption[]): string =>
  list.map((o) => (o.nested ? `${o.key}=(${options(o.nested)})` : `${o.key}=${o.tokens.map(tokenText).join(" ")}`)).join(" ");

/** A compact, exact description of what a statement parsed into. */
function describeStatement(s: Statement): string {
  switch (s.kind) {
    case "command": {
      const c = s.call;
      const parts = [c.spec.words.join(" ")];
      for (const [name, tokens] of Object.entries(c.positional)) parts.push(`<${name}:${tokens.map(tokenText).join(" ")}>`);
      if (c.options.length > 0) parts.push(`{${options(c.options)}}`);
      if (c.tail !== undefined) parts.push(`tail[${c.tail}]`);
      return parts.join(" ");
    }
    case "assign":
      return s.value.kind === "command"
        ? `${s.name} := ${describeStatement({ kind: "command", call: s.value.call })}`
        : `${s.name} = ${s.value.tokens.map(tokenText).join(" ")}`;
    case "if":
      return `if${s.then ? ` then ${describeStatement(s.then)}` : ""}`;
    case "do":
    case "else":
      return `${s.kind} ${describeStatement(s.body)}`;
    default:
      return s.kind;
  }
}

function describeItems(items: ScriptItem[], prefix = ""): string[] {
  const out: string[] = [];
  for (const it of items) {
    if (it.kind === "block") {
      out.push(`${prefix}IF-BLOCK`);
      out.push(...describeItems(it.then, `${prefix}then: `));
      out.push(...describeItems(it.otherwise, `${prefix}else: `));
      continue;
    }
    const s = parseStatement(it.text);
    out.push(prefix + (s.ok ? describeStatement(s.value) : `ERROR ${s.error.message}`));
  }
  return out;
}

function parseSeed(prefix: string): string[] {
  return blocks(seedText(prefix)).flatMap((b) => {
    const items = readScript(b);
    if (!items.ok) return [`SCRIPT ERROR ${items.error.message}`];
    return describeItems(items.value);
  });
}

const CUT_OFF = "ERROR 'blockchain insert': the where-clause ends in 'and': an option is missing after it";

describe.skipIf(!seedsPresent)("seed documents parse as written", () => {
  test("000 publisher", () => {
    expect(parseSeed("000")).toEqual([
      "run tcp server <ip:!external_ip> <port:!anylog_server_port> <local_ip:!ip> <local_port:!anylog_server_port>",
      "run rest server <ip:!ip> <port:!anylog_rest_port>",
      "run message broker <ip:!external_ip> <port:!anylog_server_port> <local_ip:!ip> <local_port:!anylog_server_port>",
      "connect dbms <words:!db_type !db_conn !db_port almgm>",
      "create table <table:tsd_info> {dbms=almgm}",
      "connect dbms <words:sqlite system_query> {memory=true}",
      "run scheduler <id:1>",
      "run blockchain sync {source=master time=!sync_time dest=file connection=!ledger_conn}",
      'new_policy = {"publisher": { "hostname": !hostname, "name": !node_name, "ip" : !external_ip, "local_ip": !ip, "company": !company_name, "port" : !anylog_server_port.int, "rest_port": !anylog_rest_port.int, "loc": !loc, "country": !country, "state": !state, "city": !city }}',
      "policy := blockchain get <type:publisher> {ip=!external_ip local_ip=!ip company=!company_name port=!anylog_server_port}",
      "if",
      "do blockchain prepare policy <policy:!new_policy>",
      CUT_OFF,
      "run mqtt client {broker=rest port=!port log=!mqtt_log topic=(name=!mqtt_topic_name dbms=!mqtt_topic_dbms table=!mqtt_topic_table column.timestamp.timestamp=!mqtt_column_timestamp column.value=(value=!mqtt_column_value type=!mqtt_column_value_type))}",
      "set buffer threshold {write_immediate=true}",
      "run data distributor",
      "run publisher {compress_json=!compress_file compress_sql=!compress_file master_node=!ledger_conn dbms_name=!dbms_file_location table_name=!table_file_location}",
    ]);
  });

  test("001 operator", () => {
    expect(parseSeed("001")).toEqual([
      "run tcp server <ip:!external_ip> <port:!anylog_server_port> <local_ip:!ip> <local_port:!anylog_server_port>",
      "run rest server <ip:!ip> <port:!anylog_rest_port>",
      "run message broker <ip:!external_ip> <port:!anylog_server_port> <local_ip:!ip> <local_port:!anylog_server_port>",
      "connect dbms <words:almgm> {type=!db_type ip=!db_ip port=!db_port user=!db_user password=!db_password}",
      "create table <table:tsd_info> {dbms=almgm}",
      "connect dbms <words:test> {type=!db_type ip=!db_ip port=!db_port user=!db_user password=!db_password}",
      "connect dbms <words:system_query> {type=!db_type memory=!memory}",
      "run scheduler <id:1>",
      "run blockchain sync {source=master time=!sync_time dest=file connection=!ledger_conn}",
      'new_policy = {"cluster": { "company": !company_name, "dbms": !default_dbms, "name": !cluster_name, "master": !ledger_conn }}',
      "policy := blockchain get <type:cluster> {name=!cluster_name company=!company_name} tail[bring.first]",
      "if",
      "do blockchain prepare policy <policy:!new_policy>",
      "do blockchain insert {policy=!new_policy local=true master=!ledger_conn}",
      "cluster_id := blockchain get <type:cluster> {name=!cluster_name company=!company_name} tail[bring.first [cluster][id]]",
      'new_policy = {"operator": { "hostname": !hostname, "name": !node_name, "company": !company_name, "local_ip": !ip, "ip": !external_ip, "port" : !anylog_server_port.int, "rest_port": !anylog_rest_port.int, "cluster": !cluster_id, "loc": !loc, "country": !country, "state": !state, "city": !city }}',
      "policy := blockchain get <type:operator> {ip=!external_ip local_ip=!ip company=!company_name port=!anylog_server_port}",
      "if",
      "do blockchain prepare policy <policy:!new_policy>",
      CUT_OFF,
      "partition <dbms:!default_dbms> <table:!table_name> <column:!partition_column> <interval:!partition_interval>",
      'schedule {time=!partition_sync name="Drop Partitions"} tail[drop partition where dbms=!default_dbms and table =!table_name and keep=!partition_keep]',
      "run mqtt client {broker=local port=!port log=!mqtt_log topic=(name=!mqtt_topic_name dbms=!mqtt_topic_dbms table=!mqtt_topic_table column.timestamp.timestamp=!mqtt_column_timestamp column.value=(value=!mqtt_column_value type=!mqtt_column_value_type))}",
      "set buffer threshold {write_immediate=true}",
      "run data distributor",
      "operator_id := blockchain get <type:operator> {ip=!external_ip local_ip=!ip company=!company_name port=!anylog_server_port} tail[bring [operator][id]]",
      "run operator {create_table=true update_tsd_info=true archive=true distributor=true master=!ledger_conn policy=!operator_id}",
    ]);
  });

  test("002 master", () => {
    const parsed = parseSeed("002");
    const tcpWhere = "{external_ip=!external_ip external_port=!anylog_server_port internal_ip=!internal_ip internal_port=!anylog_server_port";
    const expected = [
      "hostname := get hostname",
      "node_name = $NODE_NAME",
      "company_name = $COMPANY_NAME",
      "anylog_server_port = $ANYLOG_SERVER_PORT",
      "ERROR unknown command '...'; 'help' lists the commands",
      "IF-BLOCK",
      `then: run tcp server ${tcpWhere} bind=true}`,
      `then: run rest server ${tcpWhere} bind=false}`,
      `else: run tcp server ${tcpWhere} bind=false}`,
      `else: run rest server ${tcpWhere} bind=false}`,
      "connect dbms <words:blockchain> {type=psql ip=!db_ip port=!db_port user=!db_user password=!db_passwd}",
      "create table <table:ledger> {dbms=blockchain}",
      "run scheduler <id:1>",
      "run blockchain sync {source=blockchain_source time=!sync_time dest=blockchain_destination connection=!ledger_conn}",
      "IF-BLOCK",
    ];
    expect(parsed.slice(0, expected.length)).toEqual(expected);
    const rest = parsed.slice(expected.length);
    expect(rest[0]).toStartWith('then: new_policy = {"master": { "hostname": !hostname, "name": !node_name, "internal_ip": !internal_ip,');
    expect(rest[1]).toStartWith('else: new_policy = {"master": { "hostname": !hostname, "name": !node_name, "external_ip" : !external_ip,');
    expect(rest.slice(2, 5)).toEqual([
      "blockchain prepare policy <policy:!new_policy>",
      "blockchain insert {policy=!new_policy local=true master=!ledger_conn}",
      "get processes",
    ]);
    // the rest of step 6 is the printed table of processes: output, not commands
    expect(rest.slice(5).every((l) => l.startsWith("ERROR"))).toBe(true);
  });

  test("003 operator step by step", () => {
    expect(parseSeed("003")).toEqual([
      "run tcp server {external_ip=!external_ip external_port=32148 internal_ip=!ip internal_port=32148 bind=false threads=3}",
      'new_policy := create policy <type:cluster> {name=my-cluster company="My Company"}',
      "blockchain insert {policy=!new_policy local=true master=!ledger_conn}",
      'cluster_id := blockchain get <type:cluster> {name=my-cluster company="My Company"} tail[bring.first [*][id]]',
      'new_policy := create policy <type:operator> {name=my-operator1 company="My Company" cluster=!cluster_id ip=!external_ip local_ip=!ip port=!anylog_server_port}',
      'new_policy := create policy <type:operator> {name=my-operator1 company="My Company" cluster=!cluster_id ip=!ip port=32148}',
      "blockchain insert {policy=!new_policy local=true master=!ledger_conn}",
      "connect dbms <words:almgm> {type=sqlite}",
      "create table <table:tsd_info> {dbms=almgm}",
      "connect dbms <words:almgm> {type=psql ip=127.0.0.1 port=54332 user=[DB user] password=[DB password]}",
      "create table <table:tsd_info> {dbms=almgm}",
      "connect dbms <words:mydb> {type=sqlite}",
      "connect dbms <words:mydb> {type=psql ip=127.0.0.1 port=54332 user=[DB user] password=[DB password]}",
      "connect dbms <words:mydb> {type=mongo ip=127.0.0.1 port=27017 user=[DB user] password=[DB password]}",
      "run blobs archiver {dbms=!mydb folder=[true - if not stroed to mongo | false - if stored to mongo] compress=true reuse_blobs=true}",
      "run data distributor",
      'run data consumer {start_date="-30"}',
      'operator_id := blockchain get <type:operator> {cluster=!cluster_id name=my-operator1 company="My Company"} tail[bring.last [*][id]]',
      "run operator {create_table=true update_tsd_info=true compress_json=true compress_sql=true archive_json=true archive_sql=true master_node=!ledger_conn policy=!operator_id threads=6}",
    ]);
  });

  test("004 background processes: every example command", () => {
    const parsed = parseSeed("004");
    const commands = parsed.filter((l) => !l.startsWith("ERROR"));
    expect(commands).toEqual([
      "get processes",
      "get operator",
      "exit <process:TCP>",
      "exit <process:operator>",
      "exit <process:MQTT>",
      "exit <process:SMTP>",
      "run tcp server <ip:[ip]> <port:[port]> <local_ip:[local ip]> <local_port:[local port]> <threads:[threads]>",
      "run tcp server <ip:!external_ip> <port:20048> <local_ip:!ip> <local_port:20048>",
      "exit <process:tcp>",
      "run rest server <ip:[ip]> <port:[port]> {timeout=[timeout] threads=[threads count] ssl=[true/false]}",
      "get <process:rest server info>",
      "trace level tail[= 1 run rest server]",
      "trace level tail[= 2 run rest server]",
      "exit <process:rest>",
      "run operator {policy=!operator_policy create_table=true update_tsd_info=true archive=true distributor=true master_node=!master_node}",
      "get operator",
      "run publisher {delete_json=true delete_sql=true}",
      "run publisher {company=anylog delete_json=true delete_sql=true}",
      "get publisher", // its own command (get publisher [files | summary | config | distribution])
      "run blockchain sync {source=blockchain platform=ethereum time=30 seconds dest=file}",
      "run blockchain sync {source=master time=1 minute dest=file connection=!ip_port}",
      "run blockchain sync",
      "run scheduler",
      "run data distributor {distr_dir=[data directory location] archive_dir=[archive directory location]}",
      "run data distributor {cluster_id=87bd559697640dad9bdd4c356a4f7421 distr_dir=!distr_dir}",
      "get <process:distributor>",
      "run data consumer {start_date=[date] end_date=[date] mode=[mode of operation]}",
      "set consumer mode tail[= suspend]",
      "set consumer mode tail[= active]",
      "run data consumer {start_date=-3d}",
      "get <process:consumer>",
      "run blobs archiver {bwatch_dir=[data directory location] blobs_dir=[data directory location] dbms=[true/false] file=[true/false] compress=[true/false]}",
      "run blobs archiver {dbms=true folder=true compress=false}",
      "get <process:blobs archiver>",
      "run smtp client {host=[optional host name] port=[opttional port] email=[email address] password=[email password] ssl=[true/false]}",
      "run smtp client {email=anylog.iot@gmail.com password=google4anylog}",
      "run streamer {prep_dir=[path to prep directory] watch_dir=[path to watch directory] err_dir=[path to err directory]}",
      "get streaming", // its own command (AnyLog's table of buffers), no longer the process's get
      "run message broker <ip:[ip]> <port:[port]> <local_ip:[local ip]> <local_port:[Local port]> <threads:[threads]>",
      "get local broker",
    ]);
    // usage lines with [placeholders] that are not values, and the seed's `]]` typo, are clear errors
    expect(parsed.filter((l) => l.startsWith("ERROR"))).toEqual([
      "ERROR unknown command 'or'; 'help' lists the commands",
      "ERROR unexpected ']' at column 130",
      "ERROR 'run operator': expected an option name, found '[option]'",
      "ERROR 'run publisher': expected an option name, found '[option]'",
      "ERROR 'run blockchain sync' does not take '[options]' here (options go after 'where')",
    ]);
  });

  test("004: every process that `get` / `exit` names is registered", () => {
    const names = [...seedText("004").matchAll(/^(?:get|exit) ([A-Za-z ]+?)\s*$/gim)].map((m) => m[1]!.toLowerCase());
    expect(names.length).toBeGreaterThan(10);
    const known = new Set(processDefinitions().flatMap((d) => [d.name.toLowerCase(), ...d.aliases]));
    const unknown = names.filter((n) => n !== "processes" && !known.has(n));
    expect(unknown).toEqual([]);
  });
});

/**
 * @module role/expand
 * A checked role file to the command script the seeds give for its roles: 002 for a master,
 * 001 / 003 for an operator, 000 for a publisher, and servers, sync and `system_query` for a
 * query node. Several roles share one sequence (each command once). `anylog plan` prints
 * the result; `anylog start` runs it.
 */
import type { RoleConfig, MqttTopic, Value } from "./load.ts";
import { DEFAULT_PORTS, type Role } from "./schema.ts";

const quote = (v: string) => (/^[\w.:\-/@*]+$/.test(v) ? v : JSON.stringify(v));

/**
 * The script text for a role configuration. Dictionary keys in `keep` (given with
 * `--set`) are not assigned by the script, so the command line wins over the file.
 */
export function expandRole(config: RoleConfig, options: { keep?: Set<string>; readFile?: (path: string) => string } = {}): string {
  const readFile = options.readFile ?? (() => "");
  const v = (path: string) => config.values.get(path) as Value | undefined;
  const str = (path: string) => (v(path) === undefined ? undefined : String(v(path)));
  const roles = config.roles;
  const has = (r: Role) => roles.includes(r);
  const ports = DEFAULT_PORTS[roles[0]!];
  const lines: string[] = [`# generated from ${config.file} for role ${roles.join(", ")}`, ""];
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && !options.keep?.has(key)) lines.push(`${key} = ${quote(value)}`);
  };

  // 1. the dictionary the seeds' commands read
  set("node_name", str("node.name"));
  set("company_name", str("node.company"));
  set("external_ip", str("network.external_ip"));
  set("ip", str("network.internal_ip"));
  set("anylog_server_port", str("network.tcp_port") ?? String(ports.tcp));
  set("anylog_rest_port", str("network.rest_port") ?? String(ports.rest));
  set("anylog_broker_port", str("network.broker_port"));
  if (str("ledger.master")) set("ledger_conn", str("ledger.master"));
  else if (has("master") && !options.keep?.has("ledger_conn")) lines.push("ledger_conn = !external_ip:!anylog_server_port");
  set("sync_time", str("ledger.sync_interval"));
  set("db_type", str("database.type"));
  const psql = str("database.type") === "psql";
  if (psql) {
    set("db_ip", str("database.host"));
    set("db_port", str("database.port"));
    set("db_user", str("database.user"));
    const file = str("database.password_file");
    const password = file ? readFile(file).trim() : str("database.password");
    set("db_password", password);
  }
  for (const k of ["loc", "country", "state", "city"]) set(k, str(`node.location.${k}`) ?? "unknown");
  if (has("operator")) {
    set("default_dbms", str("operator.dbms"));
    set("cluster_name", str("operator.cluster"));
  }
  lines.push("");

  // 2. servers (seed 002 step 2); with authentication the first admin is made (once) and
  // authentication is on before REST listens
  if (v("security.authentication") === true) {
    const file = str("security.admin_password_file");
    set("admin_user", str("security.admin_user"));
    set("admin_password", file ? readFile(file).trim() : "");
    lines.push("id add user where name = !admin_user and password = !admin_password and type = admin and if_missing = true", "set user authentication on");
  }
  // the node's keys are made at first boot and opened at every start, before it sends anything
  if (v("security.node_authentication") === true) {
    const file = str("security.node_key_password_file");
    set("node_password", file ? readFile(file).trim() : "");
    lines.push("id create keys for node where password = !node_password and if_missing = true", "set node authentication on");
  }
  const bind = str("network.bind") ?? "false";
  // (the limits and CORS origins only when they differ from the node's own defaults)
  const frame = str("network.max_frame");
  const maxFrame = frame && frame.toUpperCase() !== "32MB" ? ` and max_frame = ${frame}` : "";
  lines.push(`run tcp server where external_ip = !external_ip and external_port = !anylog_server_port and internal_ip = !ip and internal_port = !anylog_server_port and bind = ${bind} and threads = ${str("network.threads")}${maxFrame}`);
  const origins = (v("network.cors_origins") as string[] | undefined) ?? [];
  const cors = origins.length > 0 ? ` and cors = ${quote(origins.join(", "))}` : "";
  lines.push(
    `run rest server where external_ip = !external_ip and external_port = !anylog_rest_port and internal_ip = !ip and internal_port = !anylog_rest_port and bind = ${str("network.rest_bind") ?? "false"} and threads = ${str("network.rest_threads")} and timeout = ${str("network.rest_timeout")}${cors}`,
  );
  if (str("network.broker_port")) lines.push("run message broker !external_ip !anylog_broker_port !ip !anylog_broker_port");
  lines.push("");

  // 3. databases
  const connect = (name: string) =>
    psql ? `connect dbms ${name} where type = psql and ip = !db_ip and port = !db_port and user = !db_user${str("database.password") || str("database.password_file") ? " and password = !db_password" : ""}` : `connect dbms ${name} where type = sqlite`;
  if (has("master")) lines.push(connect("blockchain"), "create table ledger where dbms = blockchain");
  if (has("operator") || has("publisher")) lines.push(connect("almgm"), "create table tsd_info where dbms = almgm");
  if (has("operator")) lines.push(connect("!default_dbms"));
  if (has("operator") || has("query") || has("publisher")) lines.push("connect dbms system_query where type = sqlite and memory = true");
  lines.push("");

  // 4. scheduler and metadata sync
  if (roles.some((r) => r !== "generic")) {
    lines.push("run scheduler 1", "run blockchain sync where source = master and time = !sync_time and dest = file and connection = !ledger_conn", "");
  }

  // 5. the node's policies (seeds 002 step 5, 001 steps 7-8, 000 step 6)
  const place = `"loc": !loc, "country": !country, "state": !state, "city": !city`;
  const nodePolicy = (type: Role) => [
    `<new_policy = {"${type}": {"hostname": !hostname, "name": !node_name, "company": !company_name, "ip": !external_ip, "local_ip": !ip,`,
    `    "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int, ${type === "operator" ? `"cluster": !cluster_id, ` : ""}${place}}}>`,
    `policy = blockchain get ${type} where name = !node_name and company = !company_name`,
    "if not !policy then",
    "do blockchain prepare policy !new_policy",
    "do blockchain insert where policy = !new_policy and local = true and master = !ledger_conn",
    "",
  ];
  if (has("master")) lines.push(...nodePolicy("master"));
  if (has("operator")) {
    lines.push(
      `<new_policy = {"cluster": {"company": !company_name, "dbms": !default_dbms, "name": !cluster_name, "master": !ledger_conn}}>`,
      "policy = blockchain get cluster where name = !cluster_name and company = !company_name bring.first",
      "if not !policy then",
      "do blockchain prepare policy !new_policy",
      "do blockchain insert where policy = !new_policy and local = true and master = !ledger_conn",
      "cluster_id = blockchain get cluster where name = !cluster_name and company = !company_name bring.first [cluster][id]",
      ...nodePolicy("operator"),
    );
  }
  if (has("publisher")) lines.push(...nodePolicy("publisher"));
  if (has("query")) lines.push(...nodePolicy("query"));

  // 6. operator: partitions, buffers, the operator itself (seed 001 steps 9, 11)
  if (has("operator")) {
    if (v("operator.partition.enabled") === true) {
      lines.push(
        `partition !default_dbms ${str("operator.partition.table")} using ${str("operator.partition.column")} by ${str("operator.partition.interval")}`,
        `schedule time = ${str("operator.partition.check")} and name = "Drop Partitions" task drop partition where dbms = !default_dbms and table = ${str("operator.partition.table")} and keep = ${str("operator.partition.keep")}`,
      );
    }
    // as seed 001: rows are stored at once; with thresholds, the streamer lets buffers wait
    if (v("operator.buffer.write_immediate") === true) lines.push("set buffer threshold where write_immediate = true");
    else lines.push(`set buffer threshold where time = ${str("operator.buffer.time")} and volume = ${str("operator.buffer.volume")}`, "run streamer");
    const journal = str("operator.buffer.journal_size");
    if (journal && journal.toUpperCase() !== "64MB") lines.push(`set buffer threshold where journal_size = ${journal}`);
    // HA (seed 001 step 11): every member of the cluster pushes what it stores and pulls what it lacks
    const ha = v("operator.ha.enabled") === true;
    if (ha) lines.push("run data distributor", `run data consumer where start_date = ${quote(str("operator.ha.start_date")!)}`);
    lines.push(
      "operator_id = blockchain get operator where name = !node_name and company = !company_name bring [operator][id]",
      `run operator where create_table = true and update_tsd_info = true and archive = ${str("operator.archive")}${ha ? " and distributor = true" : ""} and master_node = !ledger_conn and policy = !operator_id`,
      "",
    );
  }
  if (has("publisher")) {
    const c = str("publisher.compress");
    lines.push(
      "set buffer threshold where write_immediate = true",
      `run publisher where compress_json = ${c} and compress_sql = ${c} and master_node = !ledger_conn and dbms_name = ${quote(str("publisher.dbms_field")!)} and table_name = ${quote(str("publisher.table_field")!)}`,
      "",
    );
  }

  // 7. MQTT (seed 001 step 10), when a broker is configured
  const broker = str("mqtt.broker");
  const topics = (v("mqtt.topics") as MqttTopic[] | undefined) ?? [];
  if (broker && topics.length > 0) {
    const auth = str("mqtt.user") ? ` and user = ${quote(str("mqtt.user")!)} and password = ${quote(str("mqtt.password") ?? "")}` : "";
    const topicText = topics
      .map((t) => `topic = (name = ${quote(t.name)} and dbms = ${quote(t.dbms)} and table = ${quote(t.table)}${Object.entries(t.columns).map(([col, path]) => ` and column.${col} = ${quote(path)}`).join("")})`)
      .join(" and ");
    lines.push(`run msg client where broker = ${quote(broker)} and port = ${str("mqtt.port")} and log = ${str("mqtt.log")}${auth} and ${topicText}`, "");
  }

  // 8. the file's own lines
  const extra = (v("commands") as string[] | undefined) ?? [];
  if (extra.length > 0) lines.push("# commands:", ...extra, "");
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}

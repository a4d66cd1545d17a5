/**
 * @module role/default
 * The embedded default node, run by `anylog start` when neither a role file nor a script is
 * given: one node on loopback that is its own master (ledger in SQLite under
 * `$ANYLOG_HOME`), an operator storing into the SQLite dbms `!default_dbms` (test), and a
 * query node, with TCP on 127.0.0.1:32048 and REST on 127.0.0.1:32049. It is written
 * in the command language, so `anylog plan` can print it and `--set` can move its ports.
 */
export const DEFAULT_SCRIPT = `# anylog embedded default: one node on loopback, its own master
if not !anylog_server_port then anylog_server_port = 32048
if not !anylog_rest_port then anylog_rest_port = 32049
if not !listen_ip then listen_ip = 127.0.0.1
if not !company_name then company_name = AnyLog
if not !sync_time then sync_time = 30 seconds
if not !ledger_conn then ledger_conn = !listen_ip:!anylog_server_port
if not !default_dbms then default_dbms = test

run tcp server where external_ip = !listen_ip and external_port = !anylog_server_port and bind = true
run rest server where external_ip = !listen_ip and external_port = !anylog_rest_port and bind = true

# master: the ledger of policies
connect dbms blockchain where type = sqlite
create table ledger where dbms = blockchain
# operator: the record of ingested files; query: the in-memory database for merging replies
connect dbms almgm where type = sqlite
create table tsd_info where dbms = almgm
connect dbms system_query where type = sqlite and memory = true

run blockchain sync where source = master and time = !sync_time and dest = file and connection = !ledger_conn

<new_policy = {"master": {"name": !node_name, "company": !company_name, "hostname": !hostname,
    "ip": !listen_ip, "port": !anylog_server_port.int, "rest_port": !anylog_rest_port.int}}>
blockchain insert where policy = !new_policy and local = true and master = !ledger_conn

# operator: PUT rows to dbms !default_dbms and query them at once
connect dbms !default_dbms where type = sqlite
run streamer
run operator where create_table = true and update_tsd_info = true and archive = true and master_node = !ledger_conn
`;

/**
 * @module role/default
 * The embedded default node, run by `anylog start` when neither a role file nor a script is
 * given: one node on loopback that is master, operator and query on SQLite under
 * `$ANYLOG_HOME`, TCP on 127.0.0.1:32048 and REST on 127.0.0.1:32049, so a newcomer can PUT
 * rows into dbms `test` and query them at once. It is a role file like any other:
 * `anylog plan` prints what it expands to, and `--set` moves its ports.
 */
export const DEFAULT_ROLE_FILE = "embedded-default.yaml";

export const DEFAULT_ROLE = `# anylog embedded default: one node on loopback, its own master
role: [master, operator, query]
node:
  company: AnyLog
network:
  external_ip: 127.0.0.1
  internal_ip: 127.0.0.1
  tcp_port: 32048
  rest_port: 32049
  bind: true
  rest_bind: true
operator:
  dbms: test
  cluster: local-cluster
  buffer:
    write_immediate: false
    time: 1 second
`;

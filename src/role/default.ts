/**
 * @module role/default
 * The embedded default node, run by `anylog start` when no role file is present: a node on
 * loopback (TCP 127.0.0.1:32048, REST 127.0.0.1:32049) written in the command language, so
 * `anylog plan` can print it and `--set` can move its ports.
 */
export const DEFAULT_SCRIPT = `# anylog embedded default: one node on loopback
if not !anylog_server_port then anylog_server_port = 32048
if not !anylog_rest_port then anylog_rest_port = 32049
if not !listen_ip then listen_ip = 127.0.0.1
run tcp server where external_ip = !listen_ip and external_port = !anylog_server_port and bind = true
run rest server where external_ip = !listen_ip and external_port = !anylog_rest_port and bind = true
`;

/**
 * @module role/schema
 * The role file (`/etc/anylog/node.yaml`) declared as data: every field with its type, its
 * default, one line of documentation and the EdgeLake environment variable that overrides
 * it. `role/load.ts` checks a file against this table; `role/expand.ts` turns the values
 * into the command sequence of the seeds.
 */

export type Role = "master" | "operator" | "publisher" | "query" | "generic";
export const ROLES: Role[] = ["master", "operator", "publisher", "query", "generic"];

export type FieldType = "string" | "int" | "bool" | "roles" | "strings" | "topics";

export interface Field {
  type: FieldType;
  doc: string;
  default?: string | number | boolean | string[];
  /** Environment variable (EdgeLake deployment name) that overrides the file. */
  env?: string;
  /** Allowed values of a string field. */
  values?: string[];
  /** Roles that cannot run without this field (when it has no default). */
  neededBy?: Role[];
}

/** Every field, by its dotted path. */
export const FIELDS: Record<string, Field> = {
  role: { type: "roles", doc: "what the node is: master, operator, publisher, query, generic, or a list such as [master, query]", env: "NODE_TYPE", default: ["generic"] },

  "node.name": { type: "string", doc: "the node's name in policies and logs (default: anylog-<hostname>)", env: "NODE_NAME" },
  "node.company": { type: "string", doc: "the company that owns the node and its data", env: "COMPANY_NAME", default: "AnyLog" },
  "node.location.loc": { type: "string", doc: "coordinates 'lat,long' published in the node's policy", env: "LOCATION" },
  "node.location.country": { type: "string", doc: "country published in the node's policy", env: "COUNTRY" },
  "node.location.state": { type: "string", doc: "state or province published in the node's policy", env: "STATE" },
  "node.location.city": { type: "string", doc: "city published in the node's policy", env: "CITY" },

  "network.external_ip": { type: "string", doc: "IP that peers use to reach the node (default: found from the interfaces)", env: "EXTERNAL_IP" },
  "network.internal_ip": { type: "string", doc: "IP on the local network (default: found from the interfaces)", env: "INTERNAL_IP" },
  "network.tcp_port": { type: "int", doc: "peer (TCP) port (default by role: master 32048, operator 32148, publisher 32248, query 32348)", env: "ANYLOG_SERVER_PORT" },
  "network.rest_port": { type: "int", doc: "REST port (default by role: master 32049, operator 32149, publisher 32249, query 32349)", env: "ANYLOG_REST_PORT" },
  "network.broker_port": { type: "int", doc: "message broker port (operator 32150, publisher 32250); none runs unless set", env: "ANYLOG_BROKER_PORT" },
  "network.bind": { type: "bool", doc: "TCP listens on the internal IP only (true) or on every address (false)", env: "TCP_BIND", default: false },
  "network.rest_bind": { type: "bool", doc: "REST listens on the internal IP only (true) or on every address (false)", env: "REST_BIND", default: false },
  "network.threads": { type: "int", doc: "TCP worker count", env: "TCP_THREADS", default: 6 },
  "network.rest_threads": { type: "int", doc: "REST worker count", env: "REST_THREADS", default: 6 },
  "network.max_frame": { type: "string", doc: "the largest message a peer may send, e.g. 32MB", env: "MAX_FRAME", default: "32MB" },
  "network.cors_origins": { type: "strings", doc: "web page origins allowed to call REST (CORS); none by default" },
  "security.authentication": { type: "bool", doc: "REST asks every request for a user (HTTP Basic); the admin below is made at first boot", env: "REST_AUTHENTICATION", default: false },
  "security.admin_user": { type: "string", doc: "the first admin's name", env: "ADMIN_USER", default: "admin" },
  "security.admin_password_file": { type: "string", doc: "file holding the first admin's password, read at start (e.g. a systemd credential); 8 characters or more", env: "ADMIN_PASSWORD_FILE" },
  "security.node_authentication": { type: "bool", doc: "the node signs its policies and peer messages and takes them only from members of the network; its keys are made at first boot", env: "NODE_AUTHENTICATION", default: false },
  "security.node_key_password_file": { type: "string", doc: "file holding the password of the node's private key, read at start; 4 characters or more", env: "NODE_KEY_PASSWORD_FILE" },
  "network.rest_timeout": { type: "int", doc: "seconds a REST request may take", env: "REST_TIMEOUT", default: 20 },

  "ledger.master": { type: "string", doc: "ip:port of the master node (a master defaults to itself)", env: "LEDGER_CONN", neededBy: ["operator", "publisher", "query"] },
  "ledger.sync_interval": { type: "string", doc: "how often the metadata is synced, e.g. '30 seconds'", env: "SYNC_TIME", default: "30 seconds" },

  "database.type": { type: "string", doc: "sqlite or psql, for the node's databases", env: "DB_TYPE", values: ["sqlite", "psql"], default: "sqlite" },
  "database.host": { type: "string", doc: "PostgreSQL host", env: "DB_IP", default: "127.0.0.1" },
  "database.port": { type: "int", doc: "PostgreSQL port", env: "DB_PORT", default: 5432 },
  "database.user": { type: "string", doc: "PostgreSQL user", env: "DB_USER" },
  "database.password": { type: "string", doc: "PostgreSQL password (prefer password_file)", env: "DB_PASSWD" },
  "database.password_file": { type: "string", doc: "file holding the PostgreSQL password (e.g. a systemd credential)", env: "DB_PASSWD_FILE" },

  "operator.cluster": { type: "string", doc: "name of the cluster the operator joins (created when missing)", env: "CLUSTER_NAME", default: "new-cluster" },
  "operator.dbms": { type: "string", doc: "the logical database the operator stores data in", env: "DEFAULT_DBMS", default: "test" },
  "operator.partition.enabled": { type: "bool", doc: "store tables as time partitions and drop old ones daily", env: "ENABLE_PARTITIONS", default: false },
  "operator.partition.table": { type: "string", doc: "table to partition, or * for all", env: "TABLE_NAME", default: "*" },
  "operator.partition.column": { type: "string", doc: "the time column partitions follow", env: "PARTITION_COLUMN", default: "insert_timestamp" },
  "operator.partition.interval": { type: "string", doc: "partition size, e.g. '1 day'", env: "PARTITION_INTERVAL", default: "1 day" },
  "operator.partition.keep": { type: "int", doc: "partitions kept when old ones are dropped", env: "PARTITION_KEEP", default: 3 },
  "operator.partition.check": { type: "string", doc: "how often old partitions are dropped", env: "PARTITION_SYNC", default: "1 day" },
  "operator.buffer.time": { type: "string", doc: "streaming rows wait at most this long", env: "THRESHOLD_TIME", default: "60 seconds" },
  "operator.buffer.volume": { type: "string", doc: "streaming buffers are stored at this size", env: "THRESHOLD_VOLUME", default: "10KB" },
  "operator.buffer.write_immediate": { type: "bool", doc: "store every streaming PUT before it is answered (else it is answered once in the journal)", env: "WRITE_IMMEDIATE", default: true },
  "operator.buffer.journal_size": { type: "string", doc: "the most acknowledged data waiting in the journal to be stored; past it PUTs answer 503", env: "JOURNAL_SIZE", default: "64MB" },
  "operator.ha.enabled": { type: "bool", doc: "run the HA processes: push stored data to the cluster's other operators and pull what is missing", env: "ENABLE_HA", default: false },
  "operator.ha.start_date": { type: "string", doc: "how far back the consumer compares the cluster's data, e.g. -30d", env: "START_DATE", default: "-30d" },
  "operator.archive": { type: "bool", doc: "keep stored files in the archive directory, by day", env: "ARCHIVE", default: true },

  "publisher.compress": { type: "bool", doc: "compress files after they are sent", env: "COMPRESS_FILE", default: true },
  "publisher.dbms_field": { type: "string", doc: "file-name segment naming the dbms", env: "DBMS_FILE_LOCATION", default: "file_name[0]" },
  "publisher.table_field": { type: "string", doc: "file-name segment naming the table", env: "TABLE_FILE_LOCATION", default: "file_name[1]" },

  "mqtt.broker": { type: "string", doc: "MQTT broker host, 'local' or 'rest'; no client runs unless set", env: "MQTT_BROKER" },
  "mqtt.port": { type: "int", doc: "MQTT broker port", env: "MQTT_PORT", default: 1883 },
  "mqtt.user": { type: "string", doc: "MQTT user", env: "MQTT_USER" },
  "mqtt.password": { type: "string", doc: "MQTT password", env: "MQTT_PASSWD" },
  "mqtt.log": { type: "bool", doc: "log every message", env: "MQTT_LOG", default: false },
  "mqtt.topics": { type: "topics", doc: "topics and how their messages map to columns: [{name, dbms, table, columns: {col: '[json][path]'}}]" },

  commands: { type: "strings", doc: "extra command lines run after the role's sequence" },
};

/** The ports of INTERFACE §4, by the first role of the node. */
export const DEFAULT_PORTS: Record<Role, { tcp: number; rest: number; broker?: number }> = {
  master: { tcp: 32048, rest: 32049 },
  operator: { tcp: 32148, rest: 32149, broker: 32150 },
  publisher: { tcp: 32248, rest: 32249, broker: 32250 },
  query: { tcp: 32348, rest: 32349 },
  generic: { tcp: 32548, rest: 32549 },
};

/** Sections (objects) of the file: every proper prefix of a field path. */
export const SECTIONS = new Set(Object.keys(FIELDS).flatMap((p) => p.split(".").slice(0, -1).map((_, i, a) => a.slice(0, i + 1).join("."))));

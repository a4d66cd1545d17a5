/**
 * @module processes/all
 * The only list of background processes: importing a folder registers its process.
 */
import "./tcp-server/index.ts";
import "./rest-server/index.ts";
import "./operator/index.ts";
import "./publisher/index.ts";
import "./blockchain-sync/index.ts";
import "./streamer/index.ts";
import "./query-pool/index.ts";
import "./scheduler/index.ts";
import "./msg-client/index.ts";
import "./message-broker/index.ts";
import "./data-distributor/index.ts";
import "./data-consumer/index.ts";
import "./blobs-archiver/index.ts";
import "./smtp-client/index.ts";
import "./not-yet-built.ts";

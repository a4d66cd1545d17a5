/**
 * @module network/rest
 * The REST contract of INTERFACE §3 as a Hono app: GET/POST `/` with a `command` header
 * (GET only for commands that read), `destination` to run on peers, PUT `/` to ingest rows,
 * POST `command: data` for message-client topics, `/health`, `/metrics`, the guards of
 * security/ (Host, Origin, CORS, users), and Grafana's
 * JSON data source (network/grafana). Every error is a JSON `{error, command}` with a 4xx/5xx
 * status; stacks go to the log only. A GET `/` with no command from a client that is not
 * AnyLog's (a data source test, a monitor) answers `{"status": "OK"}`; one from a browser
 * (`Accept: text/html`) gets the status page.
 */
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { HttpMethod, Reply } from "../commands/spec.ts";
import type { Statement } from "../language/ast.ts";
import { runStatement } from "../language/interpreter.ts";
import { parseStatement } from "../language/parser.ts";
import type { Node } from "../node/node.ts";
import { NO_OPERATOR, intakeOf } from "../ingest/intake.ts";
import { SPOOL_OVER_BYTES } from "../ingest/spool.ts";
import { traceLevel } from "../node/trace.ts";
import { logger, redact } from "../util/log.ts";
import { AnyLogError, type ErrorCode, type Result, fail } from "../util/result.ts";
import { VERSION } from "../version.ts";
import { restTopics } from "./rest-topics.ts";
import { grafanaRoutes } from "./grafana.ts";
import { StreamedReply } from "../query/reply.ts";
import { remoteAddress, userAuthentication } from "../security/rest-auth.ts";
import { STATUS_PAGE_POLICY, statusPage } from "../monitoring/status-page.ts";
import { type GuardSettings, restGuards } from "../security/rest-guard.ts";

const log = logger("REST");

/** The largest PUT body accepted (bigger ones get 413). */
export const MAX_PUT_BYTES = 64 * 1024 * 1024;

const STATUS: Record<ErrorCode, ContentfulStatusCode> = {
  syntax: 400,
  unknown_command: 400,
  bad_option: 400,
  bad_value: 400,
  wrong_method: 405,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  unavailable: 503,
  peer_failed: 502,
  timeout: 504,
  too_large: 413,
  io: 500,
  internal: 500,
};

/** Seconds a client is asked to wait before sending again what got 503 (the node is busy or its database away). */
const RETRY_AFTER_SECONDS = 5;

function errorResponse(c: Context, error: AnyLogError, command: string): Response {
  const status = STATUS[error.code];
  if (status === 503) c.header("Retry-After", String(RETRY_AFTER_SECONDS));
  return c.json({ error: error.message, command: redact(command) }, status);
}

function replyResponse(c: Context, reply: Reply): Response {
  if (reply === undefined || reply === null) return c.body(null, 200);
  if (reply instanceof StreamedReply) return streamedResponse(reply);
  if (typeof reply === "object") return c.json(reply as object);
  return c.text(String(reply));
}

/**
 * A large query answer sent as it is read: each piece is made when the client can take it,
 * so the node holds about a page at a time. A failure part-way cuts the response (the
 * client sees a broken transfer, never a short answer that looks whole); a client that goes
 * away stops the query.
 */
function streamedResponse(reply: StreamedReply): Response {
  const text = reply.text();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          const next = await text.next();
          if (next.done) controller.close();
          else controller.enqueue(encoder.encode(next.value));
        } catch (e) {
          log.warn(`a streamed answer failed part-way (the response is cut): ${e instanceof Error ? e.message : String(e)}`);
          controller.error(e);
        }
      },
      async cancel() {
        await text.return();
      },
    },
    { highWaterMark: 0 },
  );
  return new Response(body, { status: 200, headers: { "content-type": reply.contentType } });
}

/** The HTTP method a statement needs: GET only for statements that change nothing. */
export function methodOf(stmt: Statement): HttpMethod {
  switch (stmt.kind) {
    case "command": {
      const { spec, tail } = stmt.call;
      if (spec.method !== "of-tail") return spec.method;
      const inner = parseStatement(tail ?? "");
      return inner.ok ? methodOf(inner.value) : "GET";
    }
    case "if":
      return stmt.then ? methodOf(stmt.then) : "GET";
    case "empty":
      return "GET";
    default:
      return "POST";
  }
}

/** Whether a statement's work only waits on other machines (a command declared `waitsOnNetwork`, directly, or as `x = ...`, `if ... then ...`). */
export function waitsOnNetwork(stmt: Statement): boolean {
  switch (stmt.kind) {
    case "command":
      return stmt.call.spec.waitsOnNetwork === true;
    case "assign":
      return stmt.value.kind === "command" && stmt.value.call.spec.waitsOnNetwork === true;
    case "if":
      return stmt.then !== undefined && waitsOnNetwork(stmt.then);
    case "do":
    case "else":
      return waitsOnNetwork(stmt.body);
    default:
      return false;
  }
}

/**
 * The command as `run client (<destination>[, subset = ...][, timeout = ...]) <command>` when
 * the request has a `destination` header (`network`, or ip:port, ...); else the command as sent.
 */
function asRunClient(c: Context, command: string): string {
  const destination = headerText(c, "destination")?.trim();
  if (!destination) return command;
  const items = destination.toLowerCase() === "network" ? [] : [destination];
  for (const h of ["subset", "timeout"]) {
    const v = headerText(c, h)?.trim();
    if (v) items.push(`${h} = ${v}`);
  }
  return `run client (${items.join(", ")}) ${command}`;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A request header's text. Header bytes reach the app as Latin-1 characters (one per
 * byte), but curl and the AnyLog clients send UTF-8: `command: set name = Zürich` must not
 * become "ZÃ¼rich". Bytes that form valid UTF-8 are read as UTF-8; anything else is kept.
 */
export function headerText(c: Context, name: string): string | undefined {
  const raw = c.req.header(name);
  if (raw === undefined || !/[\x80-\xff]/.test(raw) || /[^\x00-\xff]/.test(raw)) return raw;
  try {
    return utf8.decode(Buffer.from(raw, "latin1"));
  } catch {
    return raw;
  }
}

/**
 * `work`, or a timeout error past `seconds`; then `asked` is aborted, so the work stops
 * (a query's workers, the operators of a network query), and a reply it still makes is let go.
 */
function withTimeout(work: Promise<Result<Reply>>, seconds: number, command: string, asked: AbortController): Promise<Result<Reply>> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<Result<Reply>>((resolve) => {
    timer = setTimeout(() => {
      asked.abort();
      void work.then(async (late) => {
        if (late.ok && late.value instanceof StreamedReply) await late.value.close();
      });
      resolve(fail("timeout", `'${command}' did not finish within ${seconds} s`));
    }, seconds * 1000);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

export interface RestOptions {
  /** Seconds a command may take before the client gets a timeout error. */
  timeout: number;
  /** Runs a command's work in the node's bounded pool of workers (the Query Pool). */
  pool: <T>(work: () => Promise<T>) => Promise<T>;
  /** CORS origins and extra host names (security/rest-guard); none: CORS off, the node's own names only. */
  guard?: GuardSettings;
}

export function restApp(node: Node, options: RestOptions): Hono {
  const app = new Hono();
  for (const guard of restGuards(node, options.guard ?? { corsOrigins: [], extraHosts: [] })) app.use("*", guard);
  app.use("*", async (c, next) => {
    await next();
    // what `get rest calls` and /metrics show: per caller (its User-Agent) and method, with the answer's status
    node.metrics.restCall((c.req.header("user-agent") ?? "").slice(0, 100) || "(none)", c.req.method, c.res.status, remoteAddress(c));
  });
  app.use("*", userAuthentication(node));

  app.get("/health", (c) =>
    c.json({
      status: node.isStopping ? "stopping" : "healthy",
      node_name: node.name,
      version: VERSION,
      uptime_seconds: Math.round((Date.now() - node.startedAt.getTime()) / 1000),
    }),
  );

  app.get("/metrics", (c) => c.text(node.metrics.render(node), 200, { "content-type": "text/plain; version=0.0.4" }));

  async function runCommand(c: Context, text: string, method: HttpMethod, payload?: Uint8Array): Promise<Response> {
    const command = text.trim();
    if (command === "") {
      return errorResponse(c, new AnyLogError("syntax", "no command: send it in the 'command' header"), "");
    }
    node.metrics.commands++;
    const trace = traceLevel(node, "REST");
    if (trace >= 1) log.info(`${method} command: ${redact(command)}`);
    if (trace >= 2) log.info(`headers: ${redact(JSON.stringify(c.req.header()))}`);
    // the destination header (and its subset / timeout headers) is `run client (...)`: one path for REST, scripts and the console
    const stmt = parseStatement(asRunClient(c, command));
    if (!stmt.ok) {
      node.metrics.noteError(command, stmt.error.message);
      return errorResponse(c, stmt.error, command);
    }
    const needed = methodOf(stmt.value);
    if (needed === "POST" && method === "GET") {
      return errorResponse(c, new AnyLogError("wrong_method", `'${command}' changes the node's state: send it with POST`), command);
    }
    // a large query answer streams to the client; past the timeout the work under way is stopped
    const asked = new AbortController();
    const ctx = { ...node.context("rest"), stream: true, signal: asked.signal, payload };
    const run = async () => (await runStatement(stmt.value, ctx)).result;
    // a command that only waits on other machines holds no Query Pool worker, else a node
    // asking itself (or two nodes asking each other) fills its pool with waiters and the peer
    // requests they wait for queue behind them, and silent database servers starve the rest
    const work = waitsOnNetwork(stmt.value) ? run() : options.pool(run);
    const result = await withTimeout(work, options.timeout, command, asked);
    if (!result.ok) {
      node.metrics.noteError(command, result.error.message);
      return errorResponse(c, result.error, command);
    }
    return replyResponse(c, result.value);
  }

  app.get("/", async (c) => {
    const command = headerText(c, "command");
    // a browser: the status page (monitoring/status-page), as HTML that runs no script
    if (command === undefined && /\btext\/html\b/i.test(c.req.header("accept") ?? "")) {
      return c.html(await statusPage(node), 200, { "content-security-policy": STATUS_PAGE_POLICY, "cache-control": "no-store" });
    }
    // no command and not an AnyLog client: a data source's connection test (Grafana) or a monitor
    if (command === undefined && !/^anylog/i.test(c.req.header("user-agent") ?? "")) return c.json({ status: "OK", node_name: node.name, version: VERSION });
    return runCommand(c, command ?? "", "GET");
  });
  grafanaRoutes(app, node, (command) => node.execute(command, node.context("rest")));

  app.post("/", async (c) => {
    let command = headerText(c, "command");
    if (command?.trim().toLowerCase() === "data") return postData(c);
    // a file uploaded with the command (curl -F file=@x.png): its bytes are the command's payload (file store)
    if (command !== undefined && /^multipart\/form-data/i.test(c.req.header("content-type") ?? "")) {
      let upload: File | undefined;
      try {
        const form = await c.req.formData();
        const field = form.get("file") ?? [...form.values()].find((v) => typeof v !== "string");
        if (field && typeof field !== "string") upload = field;
      } catch {
        return errorResponse(c, new AnyLogError("syntax", "the multipart body cannot be read: send the file as -F file=@<path>"), command);
      }
      if (!upload) return errorResponse(c, new AnyLogError("bad_option", "the multipart body has no file: send it as -F file=@<path>"), command);
      return runCommand(c, command, "POST", new Uint8Array(await upload.arrayBuffer()));
    }
    if (command === undefined) {
      const raw = await c.req.text();
      if (raw.trim() === "") return runCommand(c, "", "POST");
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        return errorResponse(c, new AnyLogError("syntax", "the body is not JSON: send {\"command\": \"...\"} or a 'command' header"), "");
      }
      const fromBody = typeof body === "object" && body !== null ? (body as Record<string, unknown>).command : undefined;
      if (typeof fromBody !== "string") {
        return errorResponse(c, new AnyLogError("syntax", "the JSON body has no \"command\" text"), "");
      }
      command = fromBody;
    }
    return runCommand(c, command, "POST");
  });

  async function postData(c: Context): Promise<Response> {
    const topic = headerText(c, "topic")?.trim();
    if (!topic) return errorResponse(c, new AnyLogError("syntax", "'command: data' needs a 'topic' header"), "data");
    const handler = restTopics(node).get(topic);
    if (!handler) {
      const hint = `start one with 'run msg client where broker=rest and topic=(name=${topic} ...)'`;
      return errorResponse(c, new AnyLogError("unavailable", `no message client takes topic '${topic}' (${hint})`), "data");
    }
    const result = await handler(await c.req.text());
    if (!result.ok) return errorResponse(c, result.error, "data");
    return c.json({ "AnyLog.status": "Success", rows: result.value.rows });
  }

  app.put(
    "/",
    bodyLimit({
      maxSize: MAX_PUT_BYTES,
      onError: (c) => c.json({ error: `the body is over ${MAX_PUT_BYTES / 1024 / 1024} MB: send the data in smaller parts`, command: "PUT" }, 413),
    }),
    async (c) => {
      const dbms = headerText(c, "dbms")?.trim();
      const table = headerText(c, "table")?.trim();
      const mode = (c.req.header("mode") ?? "streaming").trim().toLowerCase();
      const type = (c.req.header("type") ?? "json").trim().toLowerCase();
      const bad = (message: string) => errorResponse(c, new AnyLogError("syntax", message), "PUT");
      if (!dbms) return bad("PUT needs a 'dbms' header");
      if (!table) return bad("PUT needs a 'table' header");
      if (type !== "json") return bad(`PUT takes 'type: json', not '${type}'`);
      if (mode !== "streaming" && mode !== "file") return bad(`'mode' must be streaming or file, not '${mode}'`);
      const intake = intakeOf(node);
      if (!intake) return errorResponse(c, new AnyLogError("unavailable", NO_OPERATOR), "PUT");
      // a big body (or one of unknown length) is read as it arrives, never held whole
      const length = Number(c.req.header("content-length") ?? Number.NaN);
      const raw = c.req.raw.body;
      let stored;
      if (raw && !(length <= SPOOL_OVER_BYTES)) stored = await intake.putStream(raw, dbms, table, { mode });
      else {
        const body = await c.req.text();
        if (body.trim() === "") return bad("the PUT body is empty: send a JSON object, an array, or one object per line");
        stored = await intake.put(body, dbms, table, { mode });
      }
      if (!stored.ok) return errorResponse(c, stored.error, "PUT");
      return c.json({ "AnyLog.status": "Success", "AnyLog.hash": stored.value.hash });
    },
  );

  app.notFound((c) => c.json({ error: `no such path '${c.req.path}': send commands to '/'`, command: "" }, 404));
  app.onError((e, c) => {
    log.error(`request failed unexpectedly: ${e.stack ?? e.message}`);
    return c.json({ error: "the node failed to answer this request", command: redact(headerText(c, "command") ?? "") }, 500);
  });
  return app;
}

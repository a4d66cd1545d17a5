// A real SMTP server for the tests (the `smtp-server` package), run under Node: its TLS modes
// hang under Bun. One JSON line on stdout when it listens, then one per mail received.
// Argument: JSON {port, user, password, tls?: {key, cert}} — with tls, STARTTLS is offered.
import { SMTPServer } from "smtp-server";

const o = JSON.parse(process.argv[2] ?? "{}");
const say = (x) => process.stdout.write(`${JSON.stringify(x)}\n`);

/** Subject and text of a message as nodemailer writes a plain one (7bit, quoted-printable or base64). */
function read(raw) {
  const at = raw.indexOf("\r\n\r\n");
  const head = raw.slice(0, at).replace(/\r\n[ \t]+/g, " ");
  let body = raw.slice(at + 4);
  const header = (name) => new RegExp(`^${name}:\\s*(.*)$`, "im").exec(head)?.[1] ?? "";
  const cte = header("Content-Transfer-Encoding").toLowerCase();
  if (cte === "quoted-printable") body = body.replace(/=\r\n/g, "").replace(/=([0-9A-F]{2})/gi, (_, h) => String.fromCharCode(parseInt(h, 16)));
  if (cte === "base64") body = Buffer.from(body, "base64").toString("utf8");
  return { subject: header("Subject"), text: body.replace(/\r\n/g, "\n") };
}

const server = new SMTPServer({
  name: "test-smtp",
  logger: false,
  authMethods: ["PLAIN", "LOGIN"],
  allowInsecureAuth: !o.tls,
  ...(o.tls ? { key: o.tls.key, cert: o.tls.cert } : { disabledCommands: ["STARTTLS"] }),
  onAuth(auth, _session, done) {
    if (auth.username === o.user && auth.password === o.password) return done(null, { user: auth.username });
    return done(new Error("Invalid username or password"));
  },
  onData(stream, session, done) {
    const chunks = [];
    stream.on("data", (c) => chunks.push(c));
    stream.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      say({
        event: "mail",
        from: session.envelope.mailFrom && session.envelope.mailFrom.address,
        to: session.envelope.rcptTo.map((r) => r.address),
        secure: session.secure === true,
        user: session.user ?? null,
        ...read(raw),
      });
      done();
    });
  },
});
server.on("error", (e) => process.stderr.write(`smtp-server: ${e.message}\n`));
server.listen(o.port, o.host ?? "127.0.0.1", () => say({ event: "listening", port: o.port }));
process.on("SIGTERM", () => server.close(() => process.exit(0)));

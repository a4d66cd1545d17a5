/**
 * @module processes/smtp-client
 * The SMTP client as a background process (`run smtp client`, `get smtp client`, `exit smtp`)
 * and the commands that send through it: `email to <address> [where subject = ... and
 * message = ...]` and `sms to <number> where gateway = <carrier domain> [and ...]`. A mail
 * command answers once the server took the mail, or with the reason it did not; an alert
 * rule is a scheduler task whose `if` runs one of them.
 */
import { type CommandContext } from "../../commands/context.ts";
import { type Args, command, strOption } from "../../commands/spec.ts";
import { addCommands } from "../../commands/table.ts";
import type { Result } from "../../util/result.ts";
import { registerProcess } from "../registry.ts";
import { SmtpClient } from "./client.ts";
import { composeMail, parseAddresses, smsAddress } from "./mail.ts";

registerProcess({
  name: "SMTP",
  order: 120,
  aliases: ["smtp", "smtp client"],
  run: {
    words: ["run", "smtp", "client"],
    peer: false,
    paths: ["tls_ca"],
    summary: "Sends alert e-mails and SMS through an SMTP server (default smtp.gmail.com: 465 with ssl = true, else 587 with STARTTLS when offered)",
    options: {
      host: strOption("SMTP server (default smtp.gmail.com)"),
      port: { type: "int", help: "SMTP port (default 465 with ssl = true, else 587)" },
      email: { type: "str", help: "the sender's address, also the login", required: true },
      password: { type: "str", help: "the sender's password", required: true },
      ssl: { type: "bool", help: "TLS from the first byte (SMTPS); else STARTTLS when the server offers it" },
      tls_ca: strOption("a CA certificate file to trust besides the system's (a server with its own CA)"),
    },
    examples: ["run smtp client where email = anylog.iot@gmail.com and password = !smtp_password", "run smtp client where host = mail.plant.local and port = 587 and email = alerts@plant.local and password = !smtp_password"],
  },
  create: () => new SmtpClient(),
});

const client = (ctx: CommandContext): SmtpClient => ctx.node.processes.instance("SMTP", SmtpClient);

/** Composes and sends: AnyLog's subject and body unless the command gives them. */
function sendTo(ctx: CommandContext, args: Args, to: string[]): Promise<Result<string>> {
  const mail = composeMail(to, args.str("subject"), args.list("message"), ctx.node.name);
  return client(ctx).send(mail);
}

const MESSAGE_OPTIONS = {
  subject: strOption("subject (default: AnyLog Alert)"),
  message: { type: "str", multiple: true, help: "a line of the text; repeat for more lines (default: AnyLog Network Alert from Node: <node name>)" },
} as const;

addCommands(
  command({
    words: ["email", "to"],
    peer: false,
    waitsOnNetwork: true,
    summary: "Sends an e-mail through the SMTP client; each message = ... is a line",
    method: "POST",
    positional: [{ name: "address", type: "list", rest: true, help: "the receiver's address (several: a@x.com, b@y.com)" }],
    options: MESSAGE_OPTIONS,
    examples: ['email to my_name@my_company.com where subject = "anylog alert" and message = "Value of Heater sensor is above threshold" and message = "Reporting node: Operator SF"'],
    handler(ctx, args) {
      const to = parseAddresses(args.list("address").join(","));
      if (!to.ok) return to;
      return sendTo(ctx, args, to.value);
    },
  }),
  command({
    words: ["sms", "to"],
    peer: false,
    waitsOnNetwork: true,
    summary: "Sends an SMS through a carrier's e-mail gateway (<number>@<gateway>) with the SMTP client",
    method: "POST",
    positional: [{ name: "number", type: "str", help: "the receiver's phone number" }],
    options: { gateway: { type: "str", help: "the carrier's e-mail to SMS domain (e.g. vtext.com)", required: true }, ...MESSAGE_OPTIONS },
    examples: ["sms to 4155550123 where gateway = vtext.com and subject = alert and message = \"disk almost full\""],
    handler(ctx, args) {
      const to = smsAddress(args.str("number", ""), args.str("gateway", ""));
      if (!to.ok) return to;
      return sendTo(ctx, args, [to.value]);
    },
  }),
);



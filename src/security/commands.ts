/**
 * @module security/commands
 * The certificate commands of AnyLog: `id generate certificate authority`, `id generate
 * certificate request`, `id sign certificate request`. They write PEM files under `!pem_dir`
 * (security/certificates) and answer with the files written.
 */
import { command, type Args, type OptionTable } from "../commands/spec.ts";
import { addCommands } from "../commands/table.ts";
import { type Result, fail, ok } from "../util/result.ts";
import { type Subject, generateAuthority, generateRequest, pemDir, signRequest } from "./certificates.ts";

/** AnyLog's default validity of a certificate, in days. */
const DEFAULT_DAYS = 30;

const subjectOptions: OptionTable = {
  country: { type: "str", help: "two-letter ISO country code" },
  state: { type: "str", help: "state or province" },
  locality: { type: "str", help: "town or city" },
  org: { type: "str", help: "organization name (names the files: 'Acme Inc' gives ...-acme-inc-...)", required: true },
  hostname: { type: "str", help: "host name: the certificate's common name (and an alternative name of a server)" },
  output_name: { type: "str", help: "file stem instead of AnyLog's ca-<org>-* / server-<org>-* names" },
  overwrite: { type: "bool", help: "replace files already there (default false: refuse)" },
  password: { type: "str", help: "not in this build: private keys are protected by their file mode (0600)" },
};

const daysOption: OptionTable = { expiration_days: { type: "int", help: `validity in days (default ${DEFAULT_DAYS})` } };

/** What the options common to the commands say, checked. */
function common(args: Args): Result<{ days: number; overwrite: boolean; outputName?: string }> {
  if (args.has("password")) return fail("bad_option", "'password' is not supported by this build: private key files are written readable by their owner only (mode 0600); leave the option out");
  const days = args.int("expiration_days", DEFAULT_DAYS);
  if (days <= 0) return fail("bad_option", "'expiration_days' must be a positive number of days");
  const outputName = args.str("output_name");
  if (outputName !== undefined && !/^[\w.-]+$/.test(outputName)) return fail("bad_option", `'output_name' ${outputName} must be a file name (letters, digits, '.', '_', '-'), not a path`);
  return ok({ days, overwrite: args.bool("overwrite", false), outputName });
}

function subject(args: Args, commonName: string): Subject {
  return { country: args.str("country"), state: args.str("state"), locality: args.str("locality"), org: args.str("org", ""), commonName };
}

const written = (r: Result<string[]>): Result<string> => (r.ok ? ok(`Written: ${r.value.join(", ")}`) : r);

addCommands(
  command({
    words: ["id", "generate", "certificate", "authority"],
    peer: false,
    summary: "Makes this node a certificate authority: a private key and a self-signed certificate under !pem_dir",
    method: "POST",
    options: { ...subjectOptions, ...daysOption },
    examples: [
      'id generate certificate authority where country = US and state = CA and locality = "Redwood City" and org = AnyLog and hostname = anylog.co',
      "id generate certificate authority where org = AnyLog and output_name = anylogca and expiration_days = 3650",
    ],
    async handler(ctx, args) {
      const c = common(args);
      if (!c.ok) return c;
      const org = args.str("org", "");
      return written(await generateAuthority({ dir: pemDir(ctx.node), subject: subject(args, args.str("hostname") ?? org), ...c.value }));
    },
  }),
  command({
    words: ["id", "generate", "certificate", "request"],
    peer: false,
    summary: "Makes a private key and a certificate request (for a server, the node itself or a user) under !pem_dir",
    method: "POST",
    options: {
      ...subjectOptions,
      ip: { type: "str", help: "an IP of the server (an alternative name)" },
      alt_name: { type: "str", multiple: true, help: "another IP or host name of the server (may be repeated)" },
    },
    examples: [
      'id generate certificate request where country = US and state = CA and locality = "Palo Alto" and org = "Node 128" and alt_name = 10.0.0.78 and hostname = anylog.co and ip = 192.38.78.8',
      "id generate certificate request where org = AnyLog and hostname = user1 and output_name = user1",
    ],
    async handler(ctx, args) {
      const c = common(args);
      if (!c.ok) return c;
      const hostname = args.str("hostname");
      const ip = args.str("ip");
      const alt = args.list("alt_name");
      // without names, the node's own: what curl checks when it reaches this node
      const d = ctx.node.dictionary;
      const names = hostname || ip || alt.length > 0 ? [hostname ?? "", ip ?? "", ...alt] : [d.lookup("hostname") ?? "", d.lookup("ip") ?? "", d.lookup("external_ip") ?? "", "localhost", "127.0.0.1"];
      const cn = hostname ?? ip ?? alt[0] ?? d.lookup("hostname") ?? args.str("org", "");
      return written(await generateRequest({ dir: pemDir(ctx.node), subject: subject(args, cn), names, outputName: c.value.outputName, overwrite: c.value.overwrite }));
    },
  }),
  command({
    words: ["id", "sign", "certificate", "request"],
    peer: false,
    summary: "Signs a certificate request with this node's certificate authority: writes the server's certificate under !pem_dir",
    method: "POST",
    options: {
      ca_org: { type: "str", help: "the org of the signing CA", required: true },
      ca_output_name: { type: "str", help: "the CA's file stem, when it was made with output_name" },
      server_org: { type: "str", help: "the org of the request", required: true },
      output_name: subjectOptions.output_name!,
      overwrite: subjectOptions.overwrite!,
      certificate_authority: { type: "str", help: "not in this build: the CA's key must be on this node" },
      ...daysOption,
    },
    examples: [
      'id sign certificate request where ca_org = AnyLog and server_org = "Node 128"',
      'id sign certificate request where ca_org = AnyLog and ca_output_name = anylogca and server_org = "Acme Inc" and output_name = acme-inc and expiration_days = 825',
    ],
    async handler(ctx, args) {
      if (args.has("certificate_authority")) return fail("bad_option", "'certificate_authority' (signing on a remote node) is not supported by this build: sign on the node that holds the CA's private key and copy the .crt file");
      const c = common(args);
      if (!c.ok) return c;
      const caOutputName = args.str("ca_output_name");
      if (caOutputName !== undefined && !/^[\w.-]+$/.test(caOutputName)) return fail("bad_option", `'ca_output_name' ${caOutputName} must be a file name, not a path`);
      return written(
        await signRequest({ dir: pemDir(ctx.node), caOrg: args.str("ca_org", ""), caOutputName, serverOrg: args.str("server_org", ""), ...c.value }),
      );
    },
  }),
);

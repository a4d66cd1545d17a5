/**
 * @module security/certificates
 * The node as its own certificate authority, as AnyLog's `id generate certificate authority`,
 * `id generate certificate request` and `id sign certificate request` do: ECDSA P-256 keys and
 * X.509 certificates made over WebCrypto (@peculiar/x509), so a device needs no openssl. Owns
 * the PEM file names under `!pem_dir` (AnyLog's: `ca-<org>-public-key.crt`,
 * `ca-<org>-private-key.key`, `server-<org>-private-key.key`, `server-<org>-csr.csr`,
 * `server-<org>-public-key.pem`, `server-<org>-public-key.crt`, or `<output_name>.*`) and
 * reading them back for the TLS listeners (REST, the message broker).
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { isIP } from "node:net";
import { join } from "node:path";
import type { Node } from "../node/node.ts";
import { type Result, errorText, fail, ok } from "../util/result.ts";

x509.cryptoProvider.set(crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const DAY_MS = 86_400_000;

/** The node's `!pem_dir`, where the certificate files are. */
export function pemDir(node: Node): string {
  return node.dictionary.lookup("pem_dir") ?? join(node.dictionary.lookup("anylog_path") ?? ".", "pem");
}

/** `org` as AnyLog puts it in a file name: lower case, spaces and other odd characters as hyphens ("Node 128" is `node-128`). */
export function orgStem(org: string): string {
  return org.trim().toLowerCase().replace(/[^a-z0-9._-]+/g, "-");
}

export interface CaFiles {
  cert: string;
  key: string;
}
export interface ServerFiles {
  key: string;
  csr: string;
  publicKey: string;
  cert: string;
}

/** The CA's two files: `ca-<org>-public-key.crt` and `ca-<org>-private-key.key`, or `<output_name>.crt/.key`. */
export function caFiles(dir: string, org: string, outputName?: string): CaFiles {
  if (outputName) return { cert: join(dir, `${outputName}.crt`), key: join(dir, `${outputName}.key`) };
  const s = orgStem(org);
  return { cert: join(dir, `ca-${s}-public-key.crt`), key: join(dir, `ca-${s}-private-key.key`) };
}

/** A server's files: its private key, request, public key and (once signed) certificate. */
export function serverFiles(dir: string, org: string, outputName?: string): ServerFiles {
  if (outputName) {
    const b = join(dir, outputName);
    return { key: `${b}.key`, csr: `${b}.csr`, publicKey: `${b}.pem`, cert: `${b}.crt` };
  }
  const b = join(dir, `server-${orgStem(org)}`);
  return { key: `${b}-private-key.key`, csr: `${b}-csr.csr`, publicKey: `${b}-public-key.pem`, cert: `${b}-public-key.crt` };
}

/** Who a certificate or request is for. */
export interface Subject {
  country?: string;
  state?: string;
  locality?: string;
  org: string;
  /** The common name: the host name (a server, a CA) or a user's name (a client certificate). */
  commonName: string;
}

function distinguishedName(s: Subject): string {
  const esc = (v: string) => v.replace(/([,+="\\<>;#])/g, "\\$1");
  const parts = [`CN=${esc(s.commonName)}`, `O=${esc(s.org)}`];
  if (s.locality) parts.push(`L=${esc(s.locality)}`);
  if (s.state) parts.push(`ST=${esc(s.state)}`);
  if (s.country) parts.push(`C=${esc(s.country)}`);
  return parts.join(", ");
}

/** The folder exists (made if missing) and this process may write in it. */
function writableDir(dir: string): Result<void> {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
    return ok(undefined);
  } catch (e) {
    return fail("io", `pem_dir '${dir}' is not writable: ${errorText(e)} (set pem_dir to a folder the node may write)`);
  }
}

/** Refuses to replace files unless asked to. */
function noneExist(paths: string[], overwrite: boolean): Result<void> {
  if (overwrite) return ok(undefined);
  const there = paths.filter((p) => existsSync(p));
  if (there.length === 0) return ok(undefined);
  return fail("conflict", `${there.join(", ")} already exist${there.length === 1 ? "s" : ""}: add 'and overwrite = true' to replace ${there.length === 1 ? "it" : "them"}`);
}

/** Writes PEM files; private keys readable by the owner only (0600). */
function writeAll(files: Array<{ path: string; text: string; secret?: boolean }>): Result<string[]> {
  try {
    for (const f of files) {
      writeFileSync(f.path, f.text, { mode: f.secret ? 0o600 : 0o644 });
      if (f.secret) chmodSync(f.path, 0o600); // an overwritten file keeps its old mode otherwise
    }
    return ok(files.map((f) => f.path));
  } catch (e) {
    return fail("io", `cannot write the certificate files: ${errorText(e)}`);
  }
}

async function newKeys(): Promise<CryptoKeyPair> {
  return crypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]);
}

async function privatePem(keys: CryptoKeyPair): Promise<string> {
  return x509.PemConverter.encode(await crypto.subtle.exportKey("pkcs8", keys.privateKey), "PRIVATE KEY");
}

function serialNumber(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0]! &= 0x7f; // a positive integer
  return Buffer.from(bytes).toString("hex");
}

/** Host names and IPs as subjectAltName entries (an IP as both kinds would fail curl's check: each goes where it belongs). */
function altNames(names: string[]): x509.JsonGeneralName[] {
  const seen = new Set<string>();
  const out: x509.JsonGeneralName[] = [];
  for (const raw of names) {
    const n = raw.trim();
    if (!n || seen.has(n)) continue;
    seen.add(n);
    out.push({ type: isIP(n) ? "ip" : "dns", value: n });
  }
  return out;
}

export interface AuthorityOptions {
  dir: string;
  subject: Subject;
  outputName?: string;
  days: number;
  overwrite: boolean;
}

/** Makes a CA: a key pair and a self-signed certificate that may sign others. */
export async function generateAuthority(o: AuthorityOptions): Promise<Result<string[]>> {
  const files = caFiles(o.dir, o.subject.org, o.outputName);
  const checked = checkBeforeWriting(o.dir, [files.cert, files.key], o.overwrite);
  if (!checked.ok) return checked;
  const keys = await newKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: distinguishedName(o.subject),
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + o.days * DAY_MS),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return writeAll([
    { path: files.cert, text: cert.toString("pem") },
    { path: files.key, text: await privatePem(keys), secret: true },
  ]);
}

function checkBeforeWriting(dir: string, paths: string[], overwrite: boolean): Result<void> {
  const w = writableDir(dir);
  return w.ok ? noneExist(paths, overwrite) : w;
}

export interface RequestOptions {
  dir: string;
  subject: Subject;
  /** Host names and IPs the certificate is for (subjectAltName): clients check the address they reach against them. */
  names: string[];
  outputName?: string;
  overwrite: boolean;
}

/** Makes a server's (or user's) key pair and a certificate request for a CA to sign. */
export async function generateRequest(o: RequestOptions): Promise<Result<string[]>> {
  const files = serverFiles(o.dir, o.subject.org, o.outputName);
  const checked = checkBeforeWriting(o.dir, [files.key, files.csr, files.publicKey], o.overwrite);
  if (!checked.ok) return checked;
  const keys = await newKeys();
  const san = altNames(o.names);
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: distinguishedName(o.subject),
    keys,
    signingAlgorithm: ALGORITHM,
    extensions: san.length > 0 ? [new x509.SubjectAlternativeNameExtension(san)] : [],
  });
  const spki = await crypto.subtle.exportKey("spki", keys.publicKey);
  return writeAll([
    { path: files.key, text: await privatePem(keys), secret: true },
    { path: files.csr, text: csr.toString("pem") },
    { path: files.publicKey, text: x509.PemConverter.encode(spki, "PUBLIC KEY") },
  ]);
}

export interface SignOptions {
  dir: string;
  caOrg: string;
  caOutputName?: string;
  serverOrg: string;
  outputName?: string;
  days: number;
  overwrite: boolean;
}

/** Reads a PEM file the command needs, or says which one is missing and what makes it. */
function readNeeded(path: string, what: string, makeWith: string): Result<string> {
  if (!existsSync(path)) return fail("not_found", `${what} '${path}' does not exist: ${makeWith}`);
  try {
    return ok(readFileSync(path, "utf8"));
  } catch (e) {
    return fail("io", `cannot read ${what} '${path}': ${errorText(e)}`);
  }
}

/**
 * Signs a server's request with a CA of this node: the certificate names the request's subject
 * and alternative names and serves both as a TLS server and as a client certificate.
 */
export async function signRequest(o: SignOptions): Promise<Result<string[]>> {
  const ca = caFiles(o.dir, o.caOrg, o.caOutputName);
  const server = serverFiles(o.dir, o.serverOrg, o.outputName);
  const makeCa = `make it with 'id generate certificate authority where ... and org = ${o.caOrg}'`;
  const caCertText = readNeeded(ca.cert, "the CA certificate", makeCa);
  if (!caCertText.ok) return caCertText;
  const caKeyText = readNeeded(ca.key, "the CA private key", makeCa);
  if (!caKeyText.ok) return caKeyText;
  const csrText = readNeeded(server.csr, "the certificate request", `make it with 'id generate certificate request where ... and org = ${o.serverOrg}'`);
  if (!csrText.ok) return csrText;
  const checked = checkBeforeWriting(o.dir, [server.cert], o.overwrite);
  if (!checked.ok) return checked;
  let caCert: x509.X509Certificate;
  let caKey: CryptoKey;
  let csr: x509.Pkcs10CertificateRequest;
  try {
    caCert = new x509.X509Certificate(caCertText.value);
    caKey = await crypto.subtle.importKey("pkcs8", x509.PemConverter.decodeFirst(caKeyText.value), ALGORITHM, false, ["sign"]);
  } catch (e) {
    return fail("bad_value", `the CA files ${ca.cert} and ${ca.key} are not an ECDSA P-256 certificate and key: ${errorText(e)}`);
  }
  try {
    csr = new x509.Pkcs10CertificateRequest(csrText.value);
  } catch (e) {
    return fail("bad_value", `the certificate request '${server.csr}' cannot be read: ${errorText(e)}`);
  }
  if (!(await csr.verify())) return fail("bad_value", `the certificate request '${server.csr}' is not signed by its own key: make it again`);
  const san = csr.getExtension("2.5.29.17"); // subjectAltName, as the request asked
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serialNumber(),
    subject: csr.subject,
    issuer: caCert.subject,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Math.min(Date.now() + o.days * DAY_MS, caCert.notAfter.getTime())),
    publicKey: csr.publicKey,
    signingKey: caKey,
    signingAlgorithm: ALGORITHM,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
      await x509.AuthorityKeyIdentifierExtension.create(caCert),
      await x509.SubjectKeyIdentifierExtension.create(await csr.publicKey.export()),
      ...(san ? [san] : []),
    ],
  });
  return writeAll([{ path: server.cert, text: cert.toString("pem") }]);
}

/** The PEM texts a TLS listener needs. `ca` verifies client certificates. */
export interface TlsMaterial {
  cert: string;
  key: string;
  ca?: string;
  /** The files they came from, for `get processes` and errors. */
  files: { cert: string; key: string; ca?: string };
}

/** Reads a listener's certificate, key and (optional) CA, naming the option and the file that is missing. */
export function readTls(paths: { cert: string; key: string; ca?: string }, names: { cert: string; key: string; ca: string }): Result<TlsMaterial> {
  const read = (path: string, option: string): Result<string> => {
    if (!existsSync(path)) return fail("not_found", `${option}: '${path}' does not exist`);
    try {
      const text = readFileSync(path, "utf8");
      if (!text.includes("-----BEGIN ")) return fail("bad_value", `${option}: '${path}' is not a PEM file`);
      return ok(text);
    } catch (e) {
      return fail("io", `${option}: cannot read '${path}': ${errorText(e)}`);
    }
  };
  const cert = read(paths.cert, names.cert);
  if (!cert.ok) return cert;
  const key = read(paths.key, names.key);
  if (!key.ok) return key;
  let ca: string | undefined;
  if (paths.ca) {
    const c = read(paths.ca, names.ca);
    if (!c.ok) return c;
    ca = c.value;
  }
  return ok({ cert: cert.value, key: key.value, ca, files: paths });
}

/** A listener's TLS files from the orgs, as `run rest server ... ssl = true and ca_org = ... and server_org = ...` names them. */
export function readOrgTls(dir: string, caOrg: string, serverOrg: string): Result<TlsMaterial> {
  const server = serverFiles(dir, serverOrg);
  const ca = caFiles(dir, caOrg);
  const r = readTls(
    { cert: server.cert, key: server.key, ca: ca.cert },
    { cert: `server_org '${serverOrg}' certificate`, key: `server_org '${serverOrg}' private key`, ca: `ca_org '${caOrg}' certificate` },
  );
  if (r.ok || r.error.code !== "not_found") return r;
  return fail("not_found", `${r.error.message} under pem_dir: make it with the 'id generate certificate' and 'id sign certificate request' commands, or check ca_org and server_org`);
}

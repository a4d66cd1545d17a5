/**
 * @module version
 * The node's version and build identity. `make build` defines ANYLOG_COMMIT and ANYLOG_TARGET;
 * a run from source reports "source".
 */
import pkg from "../package.json" with { type: "json" };

declare const ANYLOG_COMMIT: string | undefined;
declare const ANYLOG_TARGET: string | undefined;

export const VERSION: string = pkg.version;
export const COMMIT: string = typeof ANYLOG_COMMIT === "string" ? ANYLOG_COMMIT : "source";
export const TARGET: string = typeof ANYLOG_TARGET === "string" ? ANYLOG_TARGET : `${process.platform}-${process.arch} (bun ${Bun.version})`;

export const versionLine = (): string => `anylog ${VERSION} (${TARGET}, commit ${COMMIT})`;

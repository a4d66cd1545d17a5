/**
 * @module features
 * Everything a node can do, composed at the top: importing this module registers every
 * command (commands/all.ts) and every background process (processes/all.ts). The core
 * (`node/node.ts`) imports no feature; the executable and the tests that make nodes import
 * this. A new command or process is a new folder plus one line in one of the two lists.
 */
import "./commands/all.ts";
import "./processes/all.ts";

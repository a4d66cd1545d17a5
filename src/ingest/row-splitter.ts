/**
 * @module ingest/row-splitter
 * Data text that arrives in pieces, cut into chunks of whole rows without parsing it: a JSON
 * array is cut between its elements, objects one after another (one per line, or over
 * several lines) between objects. Each chunk comes out as the text of a JSON array of those
 * rows, about `chunkBytes` long, for `parseRows`. What the splitter cannot place (text after
 * the closing `]`, a body cut short) is an error naming where.
 *
 * @example
 *   const s = new RowSplitter((chunk) => chunks.push(chunk));
 *   s.push(textPiece); ...; const end = s.end(); // ok, or why the body is not whole
 */
import { type Result, fail, ok } from "../util/result.ts";

const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;

const isSpace = (c: number) => c === 32 || c === 10 || c === 13 || c === 9;

export class RowSplitter {
  /** "array": inside `[...]`; "objects": values one after another; undefined: nothing seen yet. */
  private form?: "array" | "objects";
  /** Nesting depth inside the current element (0: between elements). */
  private depth = 0;
  private inString = false;
  private escaped = false;
  /** The element being read, in pieces, and the elements of the chunk being filled. */
  private current: string[] = [];
  private elements: string[] = [];
  private chunkLength = 0;
  private inElement = false;
  /** The array's closing `]` was read. */
  private closed = false;
  /** In an array: an element was read and no comma after it yet. */
  private needComma = false;
  /** In an array: a comma was read and no element after it yet. */
  private afterComma = false;
  private failure?: string;
  /** Elements emitted and rows seen so far (for messages). */
  count = 0;

  constructor(
    private readonly emit: (arrayText: string) => void,
    private readonly chunkBytes = 256 * 1024,
  ) {}

  /** Takes the next piece of text. */
  push(text: string): void {
    if (this.failure) return;
    let start = this.inElement ? 0 : -1;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.inElement) {
        if (this.inString) {
          if (this.escaped) this.escaped = false;
          else if (c === BACKSLASH) this.escaped = true;
          else if (c === QUOTE) this.inString = false;
          continue;
        }
        if (c === QUOTE) this.inString = true;
        else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth++;
        else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          if (this.depth === 0) {
            // the array's own `]` right after a scalar element
            this.finishElement(text.slice(start, i));
            start = -1;
            i--; // read the bracket again between elements
            continue;
          }
          this.depth--;
          if (this.depth === 0) {
            this.finishElement(text.slice(start, i + 1));
            start = -1;
          }
        } else if (this.depth === 0 && (isSpace(c) || c === COMMA)) {
          this.finishElement(text.slice(start, i)); // a scalar element ends
          start = -1;
          i--;
        }
        continue;
      }
      // between elements
      if (isSpace(c)) continue;
      if (this.form === undefined) {
        this.form = c === OPEN_BRACKET ? "array" : "objects";
        if (this.form === "array") continue;
      }
      if (this.closed) return this.fail(`there is text after the array's closing ']' (after ${this.count} rows)`);
      if (this.form === "array") {
        if (c === COMMA) {
          if (!this.needComma) return this.fail(`not a JSON array: a ',' where row ${this.count + 1} should begin`);
          this.needComma = false;
          this.afterComma = true;
          continue;
        }
        if (c === CLOSE_BRACKET) {
          if (this.afterComma) return this.fail(`not a JSON array: a ',' before its closing ']' (after ${this.count} rows)`);
          this.closed = true;
          continue;
        }
        if (this.needComma) return this.fail(`not a JSON array: no ',' between rows ${this.count} and ${this.count + 1}`);
        this.afterComma = false;
      }
      this.inElement = true;
      start = i;
      if (c === QUOTE) this.inString = true;
      else if (c === OPEN_BRACE || c === OPEN_BRACKET) this.depth = 1;
    }
    if (this.inElement && start >= 0) this.current.push(text.slice(start));
  }

  /** The end of the text: the last chunk goes out; an error when the body is not whole. */
  end(): Result<{ rows: number }> {
    if (this.failure) return fail("bad_value", this.failure);
    if (this.inElement) {
      if (this.depth > 0 || this.inString) return fail("bad_value", `the data ends inside row ${this.count + 1}: the body is cut short`);
      this.finishElement("");
    }
    if (this.form === "array" && !this.closed) return fail("bad_value", `not a JSON array: it has no closing ']' (after ${this.count} rows)`);
    this.flushChunk();
    if (this.count === 0) return fail("bad_value", "no data: the body is empty");
    return ok({ rows: this.count });
  }

  private finishElement(lastPiece: string): void {
    this.current.push(lastPiece);
    const element = this.current.join("");
    this.current = [];
    this.inElement = false;
    this.depth = 0;
    this.elements.push(element);
    this.needComma = this.form === "array";
    this.chunkLength += element.length + 1;
    this.count++;
    if (this.chunkLength >= this.chunkBytes) this.flushChunk();
  }

  private flushChunk(): void {
    if (this.elements.length === 0) return;
    const text = `[${this.elements.join(",")}]`;
    this.elements = [];
    this.chunkLength = 0;
    this.emit(text);
  }

  private fail(why: string): void {
    this.failure ??= why;
  }
}

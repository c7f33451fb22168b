/** One server-sent message: its `id:` and its `data:` lines joined. */
export interface SseMessage {
  id?: string;
  /** The `event:` name; absent for plain messages. */
  event?: string;
  data: string;
}

/**
 * Splits a text/event-stream into messages. Feed it chunks as they come;
 * it returns the messages completed by each chunk.
 */
export class SseParser {
  #buf = "";
  #id: string | undefined;
  #event: string | undefined;
  #data: string[] = [];

  push(chunk: string): SseMessage[] {
    this.#buf += chunk;
    const out: SseMessage[] = [];
    for (;;) {
      const nl = this.#buf.search(/\r\n|\r|\n/);
      if (nl < 0) break;
      const line = this.#buf.slice(0, nl);
      this.#buf = this.#buf.slice(this.#buf.startsWith("\r\n", nl) ? nl + 2 : nl + 1);
      if (line === "") {
        if (this.#data.length > 0) out.push({ id: this.#id, event: this.#event, data: this.#data.join("\n") });
        this.#data = [];
        this.#id = undefined;
        this.#event = undefined;
        continue;
      }
      if (line.startsWith(":")) continue; // comment (keep-alive)
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? "" : line.slice(colon + 1);
      if (value.startsWith(" ")) value = value.slice(1);
      if (field === "data") this.#data.push(value);
      else if (field === "id") this.#id = value;
      else if (field === "event") this.#event = value;
    }
    return out;
  }
}

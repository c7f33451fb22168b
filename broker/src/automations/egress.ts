import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import type { LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";
import { Agent, request } from "undici";
import { ConfigError } from "@taskwire/core";

type Ip = ReturnType<typeof ipaddr.parse>;

/** An address a webhook may not reach, and why. */
export class AddressRefused extends Error {
  override readonly name = "AddressRefused";
}

/** Most bytes of an answer read (for the delivery's record); the rest is dropped. */
const MAX_ANSWER_BYTES = 1_024;

/**
 * Where automations may send requests. Public unicast addresses are
 * allowed; everything else — loopback, link-local (cloud metadata at
 * 169.254.169.254 included), private, carrier-grade NAT, unique-local,
 * multicast, unspecified, reserved, and IPv6 forms that embed IPv4 — is
 * refused unless TASKWIRE_AUTOMATION_ALLOW lists it: CIDRs or addresses
 * (`127.0.0.1`, `10.0.0.0/8`, `fd00::/8`) and host names (`hooks.internal`,
 * `*.corp.example`), comma separated. The check is made on every address
 * a name resolves to, at connect time, on the address connected to — so a
 * name that resolves to a public address when checked and to a private one
 * when used (DNS rebinding) is still refused.
 */
export class EgressPolicy {
  readonly #cidrs: Array<[Ip, number]> = [];
  readonly #hosts = new Set<string>();
  readonly #suffixes: string[] = [];
  readonly #agent: Agent;

  /** `allow`: the TASKWIRE_AUTOMATION_ALLOW value. Throws a ConfigError naming a bad entry. */
  constructor(readonly allow: string) {
    for (const raw of allow.split(",").map((s) => s.trim()).filter(Boolean)) {
      const entry = raw.toLowerCase();
      if (ipaddr.isValidCIDR(entry)) this.#cidrs.push(ipaddr.parseCIDR(entry));
      else if (ipaddr.isValid(entry)) {
        const ip = ipaddr.process(entry);
        this.#cidrs.push([ip, ip.kind() === "ipv4" ? 32 : 128]);
      } else if (/^\*\.[a-z0-9.-]+$/.test(entry)) this.#suffixes.push(entry.slice(1));
      else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(entry)) this.#hosts.add(entry);
      else throw new ConfigError(`invalid configuration:\n  TASKWIRE_AUTOMATION_ALLOW: "${raw}" is not a CIDR (10.0.0.0/8), an address (127.0.0.1) or a host name (hooks.internal, *.corp.example)`);
    }
    const lookup: LookupFunction = (hostname, options, callback) => {
      dnsLookup(hostname, { all: true, family: options.family ?? 0, hints: options.hints }, (err, addresses: LookupAddress[]) => {
        if (err) return callback(err, "", 0);
        const refused = addresses.map((a) => this.refusal(a.address, hostname)).find((r) => r !== undefined);
        if (refused) return callback(new AddressRefused(refused), "", 0);
        // net.connect asks for every address (autoSelectFamily) or for one.
        if (options.all) (callback as unknown as (e: null, all: LookupAddress[]) => void)(null, addresses);
        else callback(null, addresses[0]?.address ?? "", addresses[0]?.family ?? 4);
      });
    };
    this.#agent = new Agent({ connect: { lookup }, keepAliveTimeout: 10_000, connections: 64 });
  }

  /** True when TASKWIRE_AUTOMATION_ALLOW names this host. */
  hostAllowed(host: string): boolean {
    const h = host.toLowerCase();
    return this.#hosts.has(h) || this.#suffixes.some((s) => h.endsWith(s));
  }

  /** Why `address` (reached as `host`) is refused, or undefined when it may be reached. */
  refusal(address: string, host: string): string | undefined {
    if (!ipaddr.isValid(address)) return `"${address}" is not an address`;
    const ip = ipaddr.process(address);
    const range = ip.range();
    if (range === "unicast") return undefined;
    if (this.hostAllowed(host)) return undefined;
    if (this.#cidrs.some(([net, bits]) => net.kind() === ip.kind() && ip.match(net, bits))) return undefined;
    const name = host.replace(/^\[|\]$/g, "") === address ? address : `${host} (${address})`;
    return `${name} is a ${range} address, which automations may not reach unless the broker's TASKWIRE_AUTOMATION_ALLOW lists it (e.g. TASKWIRE_AUTOMATION_ALLOW=${ip.kind() === "ipv4" ? `${address}/32` : `${address}/128`} or the host name)`;
  }

  /**
   * Checks a URL when an automation is created: an address in the URL must
   * be allowed, and so must every address its name resolves to now (a
   * name that does not resolve here passes: it is checked at each send).
   */
  async checkUrl(url: URL): Promise<string | undefined> {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    if (ipaddr.isValid(host)) return this.refusal(host, host);
    if (this.hostAllowed(host)) return undefined;
    let addresses: LookupAddress[];
    try {
      addresses = await new Promise<LookupAddress[]>((resolve, reject) => dnsLookup(host, { all: true }, (err, a) => (err ? reject(err) : resolve(a))));
    } catch {
      return undefined;
    }
    return addresses.map((a) => this.refusal(a.address, host)).find((r) => r !== undefined);
  }

  /**
   * POSTs `body` to `url` with `headers`, through the checked connection,
   * without following redirects; answers the status and up to 1 KiB of
   * the answer. Throws AddressRefused, or the network error.
   */
  async post(url: string, headers: Record<string, string>, body: string, timeoutMs: number): Promise<{ status: number; text: string; retryAfterMs: number | undefined }> {
    const u = new URL(url);
    const host = u.hostname.replace(/^\[|\]$/g, "");
    // An address in the URL is connected to without a lookup: check it here.
    if (ipaddr.isValid(host)) {
      const r = this.refusal(host, host);
      if (r) throw new AddressRefused(r);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    const res = await request(u, { method: "POST", headers, body, dispatcher: this.#agent, signal, maxRedirections: 0, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    let text = "";
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      if (text.length < MAX_ANSWER_BYTES) text += chunk.toString("utf8");
    }
    const ra = res.headers["retry-after"];
    const retryAfter = typeof ra === "string" ? retryAfterMs(ra) : undefined;
    return { status: res.statusCode, text: text.slice(0, MAX_ANSWER_BYTES), retryAfterMs: retryAfter };
  }

  async close(): Promise<void> {
    await this.#agent.close();
  }
}

/** A Retry-After header (seconds or an HTTP date) in ms, at most 1 hour; undefined when unreadable. */
function retryAfterMs(v: string): number | undefined {
  const s = Number(v);
  const ms = Number.isFinite(s) ? s * 1000 : Date.parse(v) - Date.now();
  return Number.isFinite(ms) && ms >= 0 ? Math.min(ms, 3_600_000) : undefined;
}

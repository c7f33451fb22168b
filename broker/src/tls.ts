import { readFileSync } from "node:fs";
import { createSecureContext } from "node:tls";
import { experimental, ServerCredentials } from "@grpc/grpc-js";
import { ConfigError } from "@taskwire/core";
import type { Logger } from "pino";
import { watchFiles } from "./file-watch.js";

type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

export interface TlsFiles {
  cert: string;
  key: string;
  /** Client CA bundle: when set, clients must present a certificate it signed (mTLS). */
  clientCa?: string;
}

interface Loaded {
  cert: Buffer;
  key: Buffer;
  ca: Buffer | undefined;
}

/**
 * The broker's certificate, key and client CA as a grpc-js
 * CertificateProvider: read at start (a bad file stops the broker with a
 * message naming it), then checked every second and, when a file changed
 * and the set is valid again (the key matches the certificate, the CA
 * parses), handed to the running server, which swaps its TLS context for
 * new connections (Node's `setSecureContext`; open connections keep the
 * old one). No rebind, no restart, no dropped calls. A set that is
 * momentarily inconsistent (a new certificate written before its key) is
 * skipped until the next check; the previous one stays in use.
 */
export class TlsFileProvider implements experimental.CertificateProvider {
  #current: Loaded;
  readonly #ca = new Set<CaListener>();
  readonly #identity = new Set<IdentityListener>();
  readonly #stop: () => void;
  /** How many times the files were reloaded (for tests and logs). */
  reloads = 0;

  constructor(
    readonly files: TlsFiles,
    readonly log?: Logger,
  ) {
    const loaded = TlsFileProvider.#load(files);
    if (loaded instanceof Error) throw new ConfigError(loaded.message);
    this.#current = loaded;
    const paths = [files.cert, files.key, ...(files.clientCa ? [files.clientCa] : [])];
    this.#stop = watchFiles(paths, () => this.#reload());
  }

  static #load(files: TlsFiles): Loaded | Error {
    const read = (path: string, what: string): Buffer => {
      try {
        return readFileSync(path);
      } catch (err) {
        throw new Error(`${what}=${path}: cannot read it (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
      }
    };
    try {
      const cert = read(files.cert, "TASKWIRE_TLS_CERT");
      const key = read(files.key, "TASKWIRE_TLS_KEY");
      const ca = files.clientCa ? read(files.clientCa, "TASKWIRE_TLS_CLIENT_CA") : undefined;
      try {
        // Parses the PEMs and checks that the key belongs to the certificate.
        createSecureContext({ cert, key, ca });
      } catch (err) {
        throw new Error(`TASKWIRE_TLS_CERT=${files.cert}, TASKWIRE_TLS_KEY=${files.key}${files.clientCa ? `, TASKWIRE_TLS_CLIENT_CA=${files.clientCa}` : ""}: not a usable PEM certificate, matching key and CA (${err instanceof Error ? err.message : String(err)})`);
      }
      return { cert, key, ca };
    } catch (err) {
      return err instanceof Error ? err : new Error(String(err));
    }
  }

  #reload(): void {
    const loaded = TlsFileProvider.#load(this.files);
    if (loaded instanceof Error) {
      this.log?.warn({ err: loaded.message }, "TLS files changed but are not usable (yet); keeping the previous certificate");
      return;
    }
    this.#current = loaded;
    this.reloads++;
    this.log?.info({ cert: this.files.cert }, "TLS certificate reloaded");
    for (const l of this.#identity) l({ certificate: loaded.cert, privateKey: loaded.key });
    if (loaded.ca) for (const l of this.#ca) l({ caCertificate: loaded.ca });
  }

  /** Server credentials that follow this provider; with a client CA, a client certificate is required and verified. */
  credentials(): ServerCredentials {
    return experimental.createCertificateProviderServerCredentials(this, this.files.clientCa ? this : null, !!this.files.clientCa);
  }

  close(): void {
    this.#stop();
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#ca.add(listener);
    const ca = this.#current.ca;
    if (ca) process.nextTick(listener, { caCertificate: ca });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#ca.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.add(listener);
    process.nextTick(listener, { certificate: this.#current.cert, privateKey: this.#current.key });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identity.delete(listener);
  }
}

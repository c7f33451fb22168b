import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { REPO } from "../helpers/env.js";

/** Debian's Chromium (scripts/setup.sh --all installs it); TASKWIRE_CHROMIUM points elsewhere. */
export const CHROMIUM = process.env.TASKWIRE_CHROMIUM ?? "/usr/bin/chromium";

/** Builds the web UI into broker/ui-dist (about a second), as `make build` does. */
export function buildUi(): void {
  execFileSync(process.execPath, ["--import", "tsx", join(REPO, "ui/scripts/build.ts")], { cwd: REPO, stdio: "pipe" });
}

/** Headless Chromium; throws, saying how to install it, when it is missing. */
export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: run \`bash scripts/setup.sh --all\` (apt-get install chromium) or set TASKWIRE_CHROMIUM`);
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
}

// Every code snippet in README.md is marked with the example it comes from,
// and must appear in that file verbatim — so the README never shows code
// that CI does not run.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO } from "../helpers/env.js";

describe("README snippets come from tested examples", function () {
  const readme = readFileSync(join(REPO, "README.md"), "utf8");
  const re = /<!-- snippet: (\S+) -->\n```\w+\n([\s\S]*?)```/g;
  const snippets = [...readme.matchAll(re)];

  it("has snippets", function () {
    assert.ok(snippets.length >= 5, `found ${snippets.length}`);
  });

  for (const [, file, code] of snippets) {
    it(`snippet from ${file} matches the file`, function () {
      const source = readFileSync(join(REPO, file ?? ""), "utf8");
      // The README may show a block dedented (e.g. from inside a function).
      const lines = (code ?? "").trimEnd().split("\n");
      const found = [0, 2, 4, 6, 8].some((n) => source.includes(lines.map((l) => (l ? " ".repeat(n) + l : l)).join("\n")));
      assert.ok(found, `README snippet is not in ${file}:\n${code}`);
    });
  }

  it("has no unmarked code blocks other than shell commands and diagrams", function () {
    const blocks = [...readme.matchAll(/(<!-- snippet: \S+ -->\n)?```(\w*)\n/g)].filter((_, i) => i % 2 === 0);
    for (const b of blocks) {
      if (!b[1]) assert.ok(b[2] === "sh" || b[2] === "", `unmarked \`\`\`${b[2]} block in README`);
    }
  });
});

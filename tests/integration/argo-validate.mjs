// SPDX-License-Identifier: LGPL-2.1-or-later
// Validate an Argo Workflow (as JSON, from FILE) against Argo's JSON schema
// as @kubernetes-models/argo-workflows ships it (generated from Argo's Go
// API types, compiled with ajv): each error on stderr; exit 1 when any.
// Usage: node argo-validate.mjs PREFIX FILE
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const [prefix, file] = process.argv.slice(2);
const { Workflow } = await import(
  pathToFileURL(
    `${prefix}/node_modules/@kubernetes-models/argo-workflows/argoproj.io/v1alpha1/Workflow.js`
  ).href
);
const doc = JSON.parse(readFileSync(file, "utf8"));
if (doc.apiVersion !== Workflow.apiVersion || doc.kind !== Workflow.kind) {
  console.error(`${file}: not an ${Workflow.apiVersion} ${Workflow.kind}`);
  process.exit(1);
}
try {
  new Workflow(doc).validate();
} catch (e) {
  for (const err of e.errors ?? [e]) console.error(`${file}: ${err.instancePath ?? ""} ${err.message}`);
  process.exit(1);
}

#!/usr/bin/env node
// Builds the persisted-operations manifest the gateway serves with PERSISTED_OPERATIONS=allow|only.
//
//   node persist.mjs           validate persisted/*.graphql against the supergraph's public
//                              schema and write persisted/manifest.json
//   node persist.mjs --check   write nothing; exit 1 when an operation no longer validates or
//                              the committed manifest is stale
//
// One operation per file, named like the file (persisted/RewardsPanel.graphql holds
// `query RewardsPanel`). The manifest is in the Apollo persisted-query-manifest format (version 1):
// each operation's id is the SHA-256 (hex) of its body, the document as graphql-js prints it, so a
// client sends { "extensions": { "persistedQuery": { "version": 1, "sha256Hash": "<id>" } } } or
// { "documentId": "<id>" } instead of the query text.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildASTSchema, parse, print, validate } from 'graphql';
import { transformSupergraphToPublicSchema } from '@theguild/federation-composition';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
if (args.some((a) => a !== '--check')) {
  console.error('usage: node persist.mjs [--check]');
  process.exit(2);
}
const check = args.includes('--check');
const folder = resolve(here, 'persisted');
const manifestFile = resolve(folder, 'manifest.json');
const supergraphFile = resolve(here, process.env.SUPERGRAPH_FILE || 'supergraph.graphql');

const schema = buildASTSchema(transformSupergraphToPublicSchema(parse(readFileSync(supergraphFile, 'utf8'))));

const problems = [];
const operations = [];
for (const file of readdirSync(folder).filter((f) => f.endsWith('.graphql')).sort()) {
  const name = basename(file, '.graphql');
  let document;
  try {
    document = parse(readFileSync(resolve(folder, file), 'utf8'), { noLocation: true });
  } catch (err) {
    problems.push(`${file}: ${err.message}`);
    continue;
  }
  const definitions = document.definitions;
  if (definitions.length !== 1 || definitions[0].kind !== 'OperationDefinition') {
    problems.push(`${file}: must hold exactly one operation (no fragments)`);
    continue;
  }
  if (definitions[0].name?.value !== name) {
    problems.push(`${file}: the operation must be named ${name}, like its file`);
    continue;
  }
  const errors = validate(schema, document);
  if (errors.length > 0) {
    problems.push(...errors.map((e) => `${file}: ${e.message}`));
    continue;
  }
  const body = print(document);
  const id = createHash('sha256').update(body).digest('hex');
  operations.push({ id, name, type: definitions[0].operation, body });
}
if (problems.length > 0) {
  for (const p of problems) console.error(`persist: ${p}`);
  process.exit(1);
}

const manifest =
  JSON.stringify({ format: 'apollo-persisted-query-manifest', version: 1, operations }, null, 2) + '\n';
const previous = existsSync(manifestFile) ? readFileSync(manifestFile, 'utf8') : null;
if (check) {
  if (previous !== manifest) {
    console.error(`persist: ${manifestFile} is stale; run "node persist.mjs" (make compose) and commit it`);
    process.exit(1);
  }
  console.log(`persist: ${manifestFile} is up to date (${operations.length} operations)`);
} else if (previous === manifest) {
  console.log(`persist: ${manifestFile} unchanged (${operations.length} operations)`);
} else {
  writeFileSync(manifestFile, manifest);
  console.log(`persist: wrote ${manifestFile} (${operations.length} operations)`);
}

#!/usr/bin/env node
// Composes the committed subgraph SDL files into the supergraph served by Hive Gateway.
//
//   node compose.mjs           compose and write supergraph.graphql
//   node compose.mjs --check   compose, write nothing; exit 1 when the committed
//                              supergraph.graphql is stale or composition fails
//
// Inputs (paths relative to this folder unless absolute; overridable for tests):
//   SUBGRAPHS_JSON   list of subgraphs and routing URLs   (default: subgraphs.json)
//   SUBGRAPHS_DIR    folder holding <name>.graphql        (default: subgraphs)
//   SUPERGRAPH_FILE  composed output                      (default: supergraph.graphql)
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'graphql';
import { composeServices } from '@theguild/federation-composition';

const here = dirname(fileURLToPath(import.meta.url));
const fromHere = (p) => resolve(here, p);

const args = process.argv.slice(2);
const unknown = args.filter((a) => a !== '--check');
if (unknown.length > 0) {
  console.error(`compose: unknown argument(s): ${unknown.join(' ')}`);
  console.error('usage: node compose.mjs [--check]');
  process.exit(2);
}
const check = args.includes('--check');

const subgraphsJson = fromHere(process.env.SUBGRAPHS_JSON || 'subgraphs.json');
const subgraphsDir = fromHere(process.env.SUBGRAPHS_DIR || 'subgraphs');
const supergraphFile = fromHere(process.env.SUPERGRAPH_FILE || 'supergraph.graphql');

function fail(message) {
  console.error(`compose: ${message}`);
  process.exit(1);
}

let manifest;
try {
  manifest = JSON.parse(readFileSync(subgraphsJson, 'utf8'));
} catch (err) {
  fail(`cannot read ${subgraphsJson}: ${err.message}`);
}
const entries = manifest?.subgraphs;
if (!Array.isArray(entries) || entries.length === 0) {
  fail(`${subgraphsJson} must contain a non-empty "subgraphs" array`);
}

const services = [];
const problems = [];
const seen = new Set();
for (const entry of entries) {
  const { name, url } = entry ?? {};
  if (typeof name !== 'string' || !/^[a-z][a-z0-9_]*$/.test(name)) {
    problems.push(`invalid subgraph name ${JSON.stringify(name)} (lower-case letters, digits, _)`);
    continue;
  }
  if (seen.has(name)) {
    problems.push(`subgraph "${name}" is listed twice`);
    continue;
  }
  seen.add(name);
  if (typeof url !== 'string' || !/^https?:\/\//.test(url)) {
    problems.push(`subgraph "${name}" needs an http(s) "url"`);
    continue;
  }
  const sdlFile = resolve(subgraphsDir, `${name}.graphql`);
  if (!existsSync(sdlFile)) {
    problems.push(`subgraph "${name}": SDL file missing: ${sdlFile}`);
    continue;
  }
  let typeDefs;
  try {
    typeDefs = parse(readFileSync(sdlFile, 'utf8'), { noLocation: true });
  } catch (err) {
    problems.push(`subgraph "${name}": cannot parse ${sdlFile}: ${err.message}`);
    continue;
  }
  services.push({ name, url, typeDefs });
}
if (problems.length > 0) {
  for (const p of problems) console.error(`compose: ${p}`);
  process.exit(1);
}

// Sorted by name so the output does not depend on the order in subgraphs.json.
services.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));

const result = composeServices(services);
if (result.errors && result.errors.length > 0) {
  console.error(`compose: composition failed with ${result.errors.length} error(s):`);
  for (const err of result.errors) {
    const code = err.extensions?.code ? `[${err.extensions.code}] ` : '';
    console.error(`  - ${code}${err.message}`);
  }
  process.exit(1);
}

const supergraph = result.supergraphSdl.trimEnd() + '\n';

if (check) {
  const committed = existsSync(supergraphFile) ? readFileSync(supergraphFile, 'utf8') : null;
  if (committed === null) {
    fail(`${supergraphFile} does not exist; run "node compose.mjs" and commit it`);
  }
  if (committed !== supergraph) {
    fail(`${supergraphFile} is stale; run "node compose.mjs" and commit it`);
  }
  console.log(`compose: ${supergraphFile} is up to date (${services.length} subgraphs)`);
  process.exit(0);
}

// Written in place, and only when it changed: a running gateway watches this file and
// reloads on a change event (it stops watching when the file is replaced by a rename).
const previous = existsSync(supergraphFile) ? readFileSync(supergraphFile, 'utf8') : null;
const names = services.map((s) => s.name).join(', ');
if (previous === supergraph) {
  console.log(`compose: ${supergraphFile} unchanged (${services.length} subgraphs: ${names})`);
} else {
  writeFileSync(supergraphFile, supergraph);
  console.log(`compose: wrote ${supergraphFile} (${services.length} subgraphs: ${names})`);
}

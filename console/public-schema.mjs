// The public API schema that clients see through the gateway: the committed supergraph without
// Federation's routing machinery (join__*/link__* types and directives, @link on the schema).
//
//   node public-schema.mjs           write clients/typescript/schema.graphql
//   node public-schema.mjs --check   exit 1 when the committed file is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { parse, print, visit, Kind } from 'graphql';

const root = new URL('../', import.meta.url);
const supergraphFile = new URL('gateway/supergraph.graphql', root);
export const publicSchemaFile = new URL('clients/typescript/schema.graphql', root);

const routing = (name) => /^(join__|link__)/.test(name) || name === 'link';

export function publicSchema() {
  const document = parse(readFileSync(supergraphFile, 'utf8'));
  const cleaned = visit(document, {
    SchemaDefinition: () => null, // only @link and the default root names
    DirectiveDefinition: (node) => (routing(node.name.value) ? null : undefined),
    Directive: (node) => (routing(node.name.value) ? null : undefined),
    enter(node) {
      const named = [Kind.SCALAR_TYPE_DEFINITION, Kind.ENUM_TYPE_DEFINITION, Kind.OBJECT_TYPE_DEFINITION,
        Kind.INPUT_OBJECT_TYPE_DEFINITION, Kind.INTERFACE_TYPE_DEFINITION, Kind.UNION_TYPE_DEFINITION];
      if (named.includes(node.kind) && routing(node.name.value)) return null;
      return undefined;
    },
  });
  return '# Generated from gateway/supergraph.graphql by console/public-schema.mjs (make clients). Do not edit.\n'
    + print(cleaned) + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const text = publicSchema();
  if (process.argv.includes('--check')) {
    let current = '';
    try { current = readFileSync(publicSchemaFile, 'utf8'); } catch { /* missing counts as stale */ }
    if (current !== text) {
      console.error('clients/typescript/schema.graphql is stale: run `make clients`');
      process.exit(1);
    }
  } else {
    writeFileSync(publicSchemaFile, text);
  }
}

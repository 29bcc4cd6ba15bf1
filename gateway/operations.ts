// What an operation asks for at its root: its type, name and root field names, through inline fragments
// and fragment spreads. The response cache (cache.ts: public or private, which entities) and the rate
// limits (protections.ts: which limits concern the operation) both decide from it. Below it, the name
// every subgraph call carries.
import { getOperationAST, Kind, type DocumentNode, type SelectionSetNode } from 'graphql';

export type Roots = { type: 'query' | 'mutation' | 'other'; fields: Set<string>; name?: string };

const collect = (document: DocumentNode, selectionSet: SelectionSetNode, into: Set<string>, depth = 0): void => {
  for (const selection of selectionSet.selections) {
    if (selection.kind === Kind.FIELD) into.add(selection.name.value);
    else if (selection.kind === Kind.INLINE_FRAGMENT) collect(document, selection.selectionSet, into, depth + 1);
    else if (depth < 10) {
      const fragment = document.definitions.find(
        (d) => d.kind === Kind.FRAGMENT_DEFINITION && d.name.value === selection.name.value);
      if (fragment?.kind === Kind.FRAGMENT_DEFINITION) collect(document, fragment.selectionSet, into, depth + 1);
    }
  }
};

// Once per parsed document and operation name: the GraphQL server reuses the document object for a
// text it has parsed before.
const known = new WeakMap<DocumentNode, Map<string, Roots>>();

export const rootsOf = (document: DocumentNode, operationName?: string | null): Roots => {
  let byName = known.get(document);
  if (!byName) known.set(document, (byName = new Map()));
  let roots = byName.get(operationName ?? '');
  if (!roots) {
    const operation = getOperationAST(document, operationName);
    const fields = new Set<string>();
    if (operation) collect(document, operation.selectionSet, fields);
    const type = operation?.operation === 'query' ? 'query' : operation?.operation === 'mutation' ? 'mutation' : 'other';
    roots = { type, fields, name: operation?.name?.value };
    byName.set(operationName ?? '', roots);
  }
  return roots;
};

// The client's operation name on every subgraph call, as the stitching runtime sends it: a subgraph
// names its spans and logs after it (`GraphQL Query: RewardsPanel`), and that is how an operator finds
// a request's trace. Hive Router's runtime (GATEWAY_RUNTIME=router) sends the operations its planner
// wrote, all anonymous. The renamed document is kept per planned document and name, so that it is
// printed once (the HTTP executor caches a document's text by object); a planned document keeps at
// most NAMES_KEPT names, a name past them is renamed per call, so that made-up names cannot grow it.
const NAMES_KEPT = 64;
const clientNames = new WeakMap<object, string>();
const renamed = new WeakMap<DocumentNode, Map<string, DocumentNode>>();

const withName = (document: DocumentNode, name: string): DocumentNode => {
  let byName = renamed.get(document);
  if (!byName) renamed.set(document, (byName = new Map()));
  let named = byName.get(name);
  if (!named) {
    named = {
      ...document,
      definitions: document.definitions.map((definition) =>
        definition.kind === Kind.OPERATION_DEFINITION ? { ...definition, name: { kind: Kind.NAME, value: name } } : definition),
    };
    if (byName.size < NAMES_KEPT) byName.set(name, named);
  }
  return named;
};

export const subgraphOperationNames = () => ({
  onExecute({ args }: any) {
    const { name } = rootsOf(args.document, args.operationName);
    if (name && args.contextValue) clientNames.set(args.contextValue, name);
  },
  onSubgraphExecute({ executionRequest, setExecutionRequest }: any) {
    if (executionRequest.operationName || !executionRequest.context) return;
    const name = clientNames.get(executionRequest.context);
    if (!name) return;
    const operations = executionRequest.document.definitions.filter(
      (definition: any) => definition.kind === Kind.OPERATION_DEFINITION);
    if (operations.length !== 1) return;
    setExecutionRequest({ ...executionRequest, document: withName(executionRequest.document, name), operationName: name });
  },
});

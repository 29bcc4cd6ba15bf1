// What an operation asks for at its root: its type and its root field names, through inline fragments
// and fragment spreads. The response cache (cache.ts: public or private, which entities) and the rate
// limits (protections.ts: which limits concern the operation) both decide from it.
import { getOperationAST, Kind, type DocumentNode, type SelectionSetNode } from 'graphql';

export type Roots = { type: 'query' | 'mutation' | 'other'; fields: Set<string> };

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
    roots = { type, fields };
    byName.set(operationName ?? '', roots);
  }
  return roots;
};

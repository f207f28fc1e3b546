// The custom search attributes that let the Temporal UI (and `temporal workflow list --query`)
// find a database's runs: its Kubernetes namespace and name, its engine and its phase. They
// must be registered on the Temporal namespace (the local stack does it; README shows how for
// a real cluster); the watcher sets them only when they are.
import { SearchAttributeType, defineSearchAttributeKey } from '@temporalio/common';

export const SEARCH_ATTRIBUTES = {
  namespace: defineSearchAttributeKey('DatabaseNamespace', SearchAttributeType.KEYWORD),
  name: defineSearchAttributeKey('DatabaseName', SearchAttributeType.KEYWORD),
  engine: defineSearchAttributeKey('DatabaseEngine', SearchAttributeType.KEYWORD),
  phase: defineSearchAttributeKey('DatabasePhase', SearchAttributeType.KEYWORD),
} as const;

/** `name=Keyword` pairs, as `temporal server start-dev --search-attribute` takes them. */
export const SEARCH_ATTRIBUTE_FLAGS: readonly string[] = Object.values(SEARCH_ATTRIBUTES).map(
  (key) => `${key.name}=Keyword`,
);

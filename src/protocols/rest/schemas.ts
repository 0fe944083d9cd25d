import Type, { type TSchema } from 'typebox';

/**
 * Schema pieces shared by the route areas. Every route declares a response schema for each
 * success status (the OpenAPI document is built from them, and answers are checked against them
 * before they are sent, see openapi.ts), and a body schema wherever it takes a body.
 */

/** `204 No Content`: the OpenAPI document shows the status without a body. */
export const NoContent = Type.Null({ description: 'No content.' });

/** A JSON object whose fields are listed in the description rather than the schema. */
export const FreeObject = Type.Object({}, { additionalProperties: true });

/**
 * A body that is not JSON: raw bytes under `contentType`. The validator lets it through as it is
 * (validation.ts); the route reads and bounds it itself.
 */
export function binaryBody(contentType: string, description: string): TSchema {
  return { content: { [contentType]: { schema: { type: 'string', format: 'binary', description } } } } as unknown as TSchema;
}

/** An answer that is not JSON (a file's bytes, OpenMetrics text), streamed as it is. */
export function binaryAnswer(contentType: string, description: string): TSchema {
  return { description, content: { [contentType]: { schema: { type: 'string', format: 'binary' } } } } as unknown as TSchema;
}

/** True for the schemas binaryBody and binaryAnswer describe: nothing to validate as JSON. */
export function isBinarySchema(schema: unknown): boolean {
  return typeof schema === 'object' && schema !== null && (schema as { type?: unknown; format?: unknown }).type === 'string' && (schema as { format?: unknown }).format === 'binary';
}

/**
 * The body of a settings change (`PUT .../settings`): the settings' own schema with every
 * top-level field optional (the fields given change, the others keep their values) and no
 * `default` anywhere, so the validator never fills in a field the caller left out. Unknown fields
 * stay refused. The settings module then checks the merged result against the full schema.
 */
export function settingsChangeBody(schema: TSchema): TSchema {
  const clone = withoutDefaults(schema) as { required?: unknown; description?: string };
  delete clone.required;
  clone.description = 'The fields to change; the others keep their values.';
  return clone as TSchema;
}

/** A deep copy of a schema without `default` keywords (ajv's useDefaults would apply them). */
export function withoutDefaults(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDefaults);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    // `properties` maps field names to schemas: a field may be called "default".
    if (key === 'default') continue;
    copy[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([name, field]) => [name, withoutDefaults(field)])) : withoutDefaults(value);
  }
  return copy;
}

/**
 * A response schema from a stored document's schema: the same fields, but open to fields it does
 * not list (a record stored by an older release may carry one), since an answer that fails its
 * schema becomes a 500.
 */
export function answerSchema(schema: TSchema): TSchema {
  return open(withoutDefaults(schema)) as TSchema;
}

function open(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(open);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if ((key === 'additionalProperties' && value === false) || key === 'propertyNames' || key === 'minProperties' || key === 'maxProperties') continue;
    copy[key] = key === 'properties' ? Object.fromEntries(Object.entries(value as object).map(([name, field]) => [name, open(field)])) : open(value);
  }
  return copy;
}

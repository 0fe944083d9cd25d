import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { isBinarySchema } from './schemas.js';

// ajv-formats is CommonJS with a default export; under NodeNext it arrives as the module object.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv) => Ajv;

/**
 * Request validation, strict where it matters: a JSON body must match its schema exactly (no
 * unknown fields removed silently, no "5" taken for 5, no array taken for its first element);
 * path parameters, query strings and headers arrive as text, so scalars there are coerced to the
 * schema's type (`?limit=10`).
 */
function compilerFor(coerce: boolean): Ajv {
  const ajv = new Ajv({ allErrors: false, removeAdditional: false, useDefaults: true, coerceTypes: coerce, strict: false });
  addFormats(ajv);
  return ajv;
}

export function createValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = compilerFor(false);
  const coercing = compilerFor(true);
  const cache = new WeakMap<object, ValidateFunction>();
  return ({ schema, httpPart }) => {
    // A raw-bytes body (binaryBody) arrives as a stream the route reads and bounds itself.
    if (httpPart === 'body' && isBinarySchema(schema)) return (data: unknown) => ({ value: data });
    const ajv = httpPart === 'body' ? strict : coercing;
    const key = schema as object;
    let validate = httpPart === 'body' ? cache.get(key) : undefined;
    if (validate === undefined) {
      validate = ajv.compile(schema as object);
      if (httpPart === 'body') cache.set(key, validate);
    }
    const compiled = validate;
    return (data: unknown) => (compiled(data) ? { value: data } : { error: new Error(compiled.errors?.map((error) => describe(httpPart, error)).join('; ') ?? 'invalid') });
  };
}

/** `body.theme is not a known field` rather than ajv's `body must NOT have additional properties`. */
function describe(httpPart: string | undefined, error: ErrorObject): string {
  const at = `${httpPart ?? ''}${error.instancePath.replaceAll('/', '.')}`;
  if (error.keyword === 'additionalProperties') return `${at}.${String((error.params as { additionalProperty?: unknown }).additionalProperty)} is not a known field`;
  return `${at} ${error.message ?? 'is invalid'}`;
}

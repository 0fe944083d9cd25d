import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';

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
    const ajv = httpPart === 'body' ? strict : coercing;
    const key = schema as object;
    let validate = httpPart === 'body' ? cache.get(key) : undefined;
    if (validate === undefined) {
      validate = ajv.compile(schema as object);
      if (httpPart === 'body') cache.set(key, validate);
    }
    const compiled = validate;
    return (data: unknown) => (compiled(data) ? { value: data } : { error: new Error(compiled.errors?.map((error) => `${httpPart}${error.instancePath} ${error.message ?? 'is invalid'}`).join('; ') ?? 'invalid') });
  };
}

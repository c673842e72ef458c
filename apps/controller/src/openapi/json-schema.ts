/**
 * JSON Schema 2020-12 (https://json-schema.org/draft/2020-12) as the OpenAPI 3.1 document holds it,
 * and the helpers every `*.schemas.ts` writes its schemas with. {@link objectSchema} ties a schema to
 * the `@warren/api` contract type it describes: a property the contract has and the schema lacks (or
 * the other way round), or a `required` list that is not exactly the contract's non-optional
 * properties, fails to compile.
 */

/** A JSON Schema 2020-12 schema: an object of keywords (`type`, `properties`, `$ref`, …). */
export type JsonSchema = { readonly [keyword: string]: unknown };

/** The keys of `T` that are not optional. */
export type RequiredKeys<T> = { [K in keyof T]-?: Record<never, never> extends Pick<T, K> ? never : K }[keyof T];

/** `unknown` when `Given` covers `All`; else a property the argument lacks, whose name says which keys are missing. */
type MustCover<All, Given> = [Exclude<All, Given>] extends [never] ? unknown : { requiredLacks: Exclude<All, Given> };

/** What {@link objectSchema} takes: one schema per property of `T`, and its non-optional ones as `required`. */
export type ObjectSchemaSpec<T, R extends readonly RequiredKeys<T>[]> = {
  description?: string;
  properties: { readonly [K in keyof T]-?: JsonSchema };
  required: R;
} & MustCover<RequiredKeys<T>, R[number]>;

/**
 * The schema of a JSON object of contract type `T`: exactly `T`'s properties (an unknown one is
 * refused: `additionalProperties: false`), `required` exactly its non-optional ones; both checked
 * by the compiler. Called in two steps (`objectSchema<T>()({…})`) so that `T` is given and the
 * `required` tuple inferred.
 */
export function objectSchema<T>() {
  return <const R extends readonly RequiredKeys<T>[]>(spec: ObjectSchemaSpec<T, R>): JsonSchema => ({
    type: 'object',
    ...(spec.description ? { description: spec.description } : {}),
    properties: spec.properties,
    required: [...spec.required],
    additionalProperties: false,
  });
}

/** A reference to `components.schemas[name]`. */
export const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });

/** `schema` or JSON `null` (3.1 has no `nullable`: a type list, or `anyOf` for a reference). */
export function nullable(schema: JsonSchema): JsonSchema {
  if (typeof schema.type === 'string') return { ...schema, type: [schema.type, 'null'] };
  return { anyOf: [schema, { type: 'null' }] };
}

/** A string; `description` says what it holds. */
export const str = (description?: string, more: JsonSchema = {}): JsonSchema => ({
  type: 'string',
  ...more,
  ...(description ? { description } : {}),
});

/** A whole number. */
export const int = (description?: string, more: JsonSchema = {}): JsonSchema => ({
  type: 'integer',
  ...more,
  ...(description ? { description } : {}),
});

/** A boolean. */
export const bool = (description?: string): JsonSchema => ({
  type: 'boolean',
  ...(description ? { description } : {}),
});

/** An ISO-8601 time in UTC (`2026-01-31T12:00:00.000Z`). */
export const isoTime = (description = 'ISO-8601 time, UTC'): JsonSchema => ({
  type: 'string',
  format: 'date-time',
  description,
});

/** One of `values`. */
export const oneOfValues = (values: readonly string[], description?: string): JsonSchema => ({
  type: 'string',
  enum: [...values],
  ...(description ? { description } : {}),
});

/** An array of `items`. */
export const arrayOf = (items: JsonSchema, description?: string, more: JsonSchema = {}): JsonSchema => ({
  type: 'array',
  items,
  ...more,
  ...(description ? { description } : {}),
});

/** An object of string values (labels, env). */
export const stringMap = (description?: string, more: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: { type: 'string' },
  ...more,
  ...(description ? { description } : {}),
});

import type { JsonSchema } from './json-schema';

/** A parameter's schema and meaning (its name and place come from the route's metadata). */
export interface ParamDoc {
  description: string;
  schema: JsonSchema;
  /** a response header sent with every such answer */
  required?: true;
}

/** An OpenAPI Media Type Object: the body's schema, and Warren's extensions (`x-warren-events`). */
export interface MediaDoc {
  schema?: JsonSchema;
  [extension: `x-${string}`]: unknown;
}

/** One answer of an operation: its description, bodies by media type, headers by name. */
export interface ResponseDoc {
  description: string;
  /** media type → its Media Type Object (`{schema}`, and for the event stream `x-warren-events`) */
  content?: Record<string, MediaDoc>;
  headers?: Record<string, ParamDoc>;
}

/**
 * What the code cannot say about a route: its summary, the meaning and schema of its parameters,
 * its answers. The route itself, its parameters' names, body type, token and role come from Nest's
 * metadata (`routes.scan.ts`); the error answers every route shares are added by the builder.
 */
export interface OperationDoc {
  operationId: string;
  summary: string;
  description?: string;
  /** one entry per `:name` segment */
  path?: Record<string, ParamDoc>;
  /** one entry per declared query parameter (all of them, for a handler that reads the whole query) */
  query?: Record<string, ParamDoc>;
  /** one entry per `@Headers('name')` parameter, by its name as sent */
  headers?: Record<string, ParamDoc>;
  /** a body the handler reads itself (no `@Body()` class), by media type: `POST /v1/files`'s bytes */
  rawBody?: Record<string, MediaDoc>;
  /** the 2xx answers, and any error answer with a body or headers of its own */
  responses: Record<number, ResponseDoc>;
  /** the error statuses this route answers beyond the shared ones, answered with the shared error body */
  errors?: number[];
}

/** `{ 'application/json': { schema } }` */
export const json = (schema: JsonSchema): Record<string, MediaDoc> => ({ 'application/json': { schema } });

/** The operations of the API by `METHOD /path` (OpenAPI path form). */
export type OperationTable = Record<string, OperationDoc>;

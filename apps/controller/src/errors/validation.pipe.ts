import { type ArgumentMetadata, type HttpException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { InvalidRequestError } from './errors';

/**
 * Nest's ValidationPipe, refusing with {@link InvalidRequestError} so that the filter's table maps
 * it. The messages are Nest's own (one per bad field, within its length budget).
 */
class DomainValidationPipe extends ValidationPipe {
  /**
   * A query or path parameter typed `number` must be a whole number as text: Nest's own `+value`
   * turns `abc` into NaN, which a `DefaultValuePipe` then silently replaces by its default.
   */
  protected override transformPrimitive(value: unknown, metadata: ArgumentMetadata): unknown {
    const { type, metatype, data } = metadata;
    if (data && (type === 'query' || type === 'param') && metatype === Number && value !== undefined) {
      if (typeof value !== 'string' || !/^-?\d{1,15}$/.test(value))
        throw new InvalidRequestError([
          `${data} must be a whole number of at most 15 digits, got ${JSON.stringify(value).slice(0, 60)}`,
        ]);
    }
    return super.transformPrimitive(value, metadata);
  }

  override createExceptionFactory() {
    const nest = super.createExceptionFactory();
    return (errors: ValidationError[] = []) => {
      const { message } = (nest(errors) as HttpException).getResponse() as { message?: string | string[] };
      return new InvalidRequestError(Array.isArray(message) ? message : [message ?? 'invalid request']);
    };
  }
}

/**
 * The global pipe: unknown fields are refused, every bad field is named (all of them, not just the
 * first), and bodies become their DTO classes; a refusal is an {@link InvalidRequestError} (400).
 */
export function validationPipe(): ValidationPipe {
  return new DomainValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    stopAtFirstError: false,
  });
}

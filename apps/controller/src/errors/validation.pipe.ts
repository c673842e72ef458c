import { type HttpException, ValidationPipe } from '@nestjs/common';
import type { ValidationError } from 'class-validator';
import { InvalidRequestError } from './errors';

/**
 * Nest's ValidationPipe, refusing with {@link InvalidRequestError} so that the filter's table maps
 * it. The messages are Nest's own (one per bad field, within its length budget).
 */
class DomainValidationPipe extends ValidationPipe {
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

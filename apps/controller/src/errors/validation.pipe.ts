import { ValidationPipe } from '@nestjs/common';

/**
 * The global pipe: unknown fields are refused, every bad field is named (all of them, not just the
 * first), and bodies become their DTO classes.
 */
export function validationPipe(): ValidationPipe {
  return new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true, stopAtFirstError: false });
}

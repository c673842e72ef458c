import type { CreateTaskRequest, GetRequest, PutRequest } from '@warren/api';
import { isPrintable, LIMITS, MAX_FILE_BYTES, SHA256_HEX_PATTERN } from '@warren/protocol';
import {
  IsBoolean,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  registerDecorator,
  type ValidationArguments,
  ValidateIf,
} from 'class-validator';
import { FollowsRule } from './targeting.validators';

/** `0644`, `644`, `4755`: permission bits in octal, 3 or 4 digits after an optional leading 0. */
export const MODE_PATTERN = /^0?[0-7]{3,4}$/;

/** `user` or `user:group`, each a name useradd accepts. */
export const OWNER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}(:[a-z_][a-z0-9_-]{0,31})?$/;

/**
 * What is wrong with a file path on the hosts (`put.dest`, `get.path`), naming `field`, or null: it
 * must be absolute, printable as the protocol's `isPrintable` says (what the agent's codec checks),
 * at most `LIMITS.cwdBytes` characters, without a `..` segment, and name a file (no trailing `/`).
 * The agent's policy decides which paths it may touch.
 */
export function filePathProblem(value: unknown, field: string): string | null {
  if (typeof value !== 'string' || !value.startsWith('/') || /[\u0000-\u001f\u007f]/.test(value))
    return `${field} must be an absolute path`;
  // The agent's codec refuses the rest of what is not printable too: caught here, not by every host.
  if (!isPrintable(value)) return `${field} must be printable: no control or bidirectional-override characters`;
  if (value.length > LIMITS.cwdBytes) return `${field} must be at most ${LIMITS.cwdBytes} characters`;
  if (value.split('/').includes('..')) return `${field} must not hold a .. segment`;
  if (value.endsWith('/')) return `${field} must name a file, not end with /`;
  return null;
}

/** `put` of `POST /v1/tasks`: write an uploaded file at `dest` on every host. */
export class PutDto implements PutRequest {
  /** SHA-256 of a file uploaded with `POST /v1/files` (an unknown one is a 422) */
  @IsString()
  @Matches(SHA256_HEX_PATTERN, { message: 'file must be the lowercase hex SHA-256 of an uploaded file' })
  file: string;

  /** absolute path of the destination file */
  @FollowsRule(filePathProblem)
  dest: string;

  /** octal permission bits, `"0644"` or `"644"` */
  @IsOptional()
  @IsString()
  @Matches(MODE_PATTERN, { message: 'mode must be octal permission bits, like 0644 or 644' })
  mode?: string;

  /** `user` or `user:group` */
  @IsOptional()
  @IsString()
  @Matches(OWNER_PATTERN, { message: 'owner must be user or user:group (names as useradd takes them)' })
  owner?: string;

  /** create missing parent directories */
  @IsOptional()
  @IsBoolean()
  mkdir?: boolean;
}

/** `get` of `POST /v1/tasks`: read `path` on every host. */
export class GetDto implements GetRequest {
  /** absolute path of the file on each host */
  @FollowsRule(filePathProblem)
  path: string;

  /** bytes; default and most: the controller's `--max-file-size` (above it: 422) */
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(MAX_FILE_BYTES)
  maxBytes?: number;
}

/**
 * What is wrong with the kind of a task body, or null: exactly one of `command`, `put` or `get`,
 * and `stdin` only with `command`.
 */
export function taskKindProblem(body: Pick<CreateTaskRequest, 'command' | 'put' | 'get' | 'stdin'>): string | null {
  const given = (['command', 'put', 'get'] as const).filter((k) => body[k] !== undefined);
  if (given.length === 0) return 'one of command, put or get is required';
  if (given.length > 1) return `only one of command, put or get may be given, got ${given.join(' and ')}`;
  if (body.stdin !== undefined && body.command === undefined) return 'stdin goes only with command';
  return null;
}

/**
 * Checks {@link taskKindProblem} on the whole body, from the field it decorates (`command`), which
 * `ValidateIf` makes validated even when absent (so that field's other checks must allow
 * undefined); the refusal is one more line of the 400 with every other bad field.
 */
export function IsOneTaskKind(): PropertyDecorator {
  return (target, propertyName) => {
    ValidateIf(() => true)(target, propertyName);
    registerDecorator({
      name: 'isOneTaskKind',
      target: target.constructor,
      propertyName: propertyName as string,
      validator: {
        validate: (_v: unknown, args?: ValidationArguments) =>
          taskKindProblem(args?.object as CreateTaskRequest) === null,
        defaultMessage: (args: ValidationArguments) => taskKindProblem(args.object as CreateTaskRequest) ?? 'invalid',
      },
    });
  };
}

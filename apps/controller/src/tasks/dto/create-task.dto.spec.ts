import { ENV_TOTAL_BYTES } from '@warren/api';
import { LIMITS } from '@warren/protocol';
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../errors/errors';
import { validationPipe } from '../../errors/validation.pipe';
import { CreateTaskDto } from './create-task.dto';

/** The messages of the 400 the API answers for `body`, or [] when it is valid. */
async function refusal(body: Record<string, unknown>): Promise<string[]> {
  try {
    await validationPipe().transform(body, { type: 'body', metatype: CreateTaskDto });
    return [];
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidRequestError);
    return (err as InvalidRequestError).problems;
  }
}

const ok = { command: 'uptime', hosts: ['web1'] };
const manyEnv = (n: number, size = 1) =>
  Object.fromEntries(Array.from({ length: n }, (_, i) => [`V${i}`, 'x'.repeat(size)]));

describe('POST /v1/tasks body limits', () => {
  it('accepts a body at every limit', async () => {
    expect(
      await refusal({
        ...ok,
        command: 'x'.repeat(LIMITS.commandBytes),
        cwd: `/${'d'.repeat(LIMITS.cwdBytes - 1)}`,
        runAs: 'deploy_user-1',
      }),
    ).toEqual([]);
    expect(await refusal({ ...ok, hosts: Array.from({ length: LIMITS.hostsPerTask }, (_, i) => `h${i}`) })).toEqual([]);
    expect(await refusal({ ...ok, env: manyEnv(LIMITS.envCount) })).toEqual([]);
    // bytes, not characters: 21,845 × U+FF48 (3 bytes each) and one `x` make exactly 65,536 bytes
    expect(await refusal({ ...ok, command: 'ｈ'.repeat(21_845) + 'x' })).toEqual([]);
    expect(await refusal({ ...ok, env: { BIG: 'x'.repeat(LIMITS.envEntryBytes - 4) } })).toEqual([]);
  });

  it('refuses what execve(2) cannot take, counted in UTF-8 bytes: 180 KB of `ｈ`, 65,537 bytes, a 131,072-byte NAME=value', async () => {
    const big = await refusal({ ...ok, command: `echo ${'ｈ'.repeat(60_000)}` });
    expect(big).toEqual([
      'command is 180005 bytes of UTF-8; at most 65536 bytes (Linux refuses one argument of 131072 bytes or more)',
    ]);
    expect(await refusal({ ...ok, command: 'x'.repeat(65_537) })).toEqual([
      'command is 65537 bytes of UTF-8; at most 65536 bytes (Linux refuses one argument of 131072 bytes or more)',
    ]);
    expect(await refusal({ ...ok, command: 'ｈ'.repeat(21_846) })).toHaveLength(1);
    expect(await refusal({ ...ok, env: { BIG: 'x'.repeat(LIMITS.envEntryBytes - 3) } })).toEqual([
      "env: BIG=value is 131072 bytes of UTF-8; at most 131071 bytes (Linux's MAX_ARG_STRLEN less its NUL)",
    ]);
  });

  it('refuses a relative cwd, which would be read from the agent’s own working directory', async () => {
    expect(await refusal({ ...ok, cwd: 'docs' })).toEqual([
      'cwd must be an absolute path (starting with /), got "docs"',
    ]);
    expect(await refusal({ ...ok, cwd: './' })).toHaveLength(1);
    expect(await refusal({ ...ok, cwd: '/srv/app' })).toEqual([]);
  });

  it('accepts targets by pattern, label and all, and rolling limits as counts or percentages', async () => {
    expect(
      await refusal({
        command: 'x',
        hosts: ['web[01-20]', 'db*', 'r?'],
        labels: ['zone=eu', 'k8s.io/role=web'],
        concurrency: '25%',
        maxErrors: 0,
      }),
    ).toEqual([]);
    expect(
      await refusal({
        command: 'x',
        all: true,
        labels: { zone: 'eu' },
        concurrency: 3,
        maxErrors: '10%',
        dryRun: true,
      }),
    ).toEqual([]);
    // a count as digits in a string, as the rolling policy always read it
    expect(await refusal({ command: 'x', all: true, concurrency: '3', maxErrors: '0' })).toEqual([]);
  });

  it.each([
    ['command', { command: 'x'.repeat(LIMITS.commandBytes + 1) }, /^command is 65537 bytes of UTF-8; at most 65536/],
    ['command', { command: 'a\u0000b' }, /^command must not contain a NUL character/],
    ['command', { command: '' }, /^command should not be empty/],
    [
      'hosts',
      { hosts: Array.from({ length: LIMITS.hostsPerTask + 1 }, (_, i) => `h${i}`) },
      /^hosts must contain no more than 10000/,
    ],
    ['hosts', { hosts: ['web 1'] }, /hosts must be a host id/],
    ['cwd', { cwd: `/${'d'.repeat(LIMITS.cwdBytes)}` }, /^cwd is 4096 bytes of UTF-8; at most 4095/],
    ['env', { env: manyEnv(LIMITS.envCount + 1) }, /^env: has 129 variables; at most 128/],
    ['env', { env: { BIG: 'é'.repeat(65_534) } }, /^env: BIG=value is 131072 bytes of UTF-8; at most 131071/],
    [
      'env',
      { env: manyEnv(8, 32_000) },
      new RegExp(`^env: NAME=value entries add up to \\d+ bytes; at most ${ENV_TOTAL_BYTES}`),
    ],
    ['env', { env: { 'BAD-NAME': 'x' } }, /^env: name "BAD-NAME" must match/],
    ['runAs', { runAs: 'Root' }, /^runAs must be a user name/],
    ['runAs', { runAs: 'a'.repeat(33) }, /^runAs must be a user name/],
    ['runAs', { runAs: 'x;id' }, /^runAs must be a user name/],
    ['hosts', { hosts: ['web$(id)'] }, /hosts must be a host id .*a range .*or a glob/],
    ['labels', { labels: ['zone'] }, /^labels: label "zone" must be key=value/],
    ['labels', { labels: { zone: 1 } }, /^labels: value of zone must be a string/],
    ['labels', { labels: ['zone=eu', 'zone=us'] }, /^labels: zone is given twice \(eu, us\); no host can have both/],
    ['labels', { labels: 'zone=eu' }, /^labels: must be an object/],
    ['all', { all: 'yes' }, /^all must be a boolean/],
    ['concurrency', { concurrency: 0 }, /^concurrency must be a whole number of at least 1/],
    ['concurrency', { concurrency: '0%' }, /^concurrency as a percentage must be above 0%/],
    ['maxErrors', { maxErrors: '150%' }, /^maxErrors as a percentage must be at least 0% and at most 100%/],
    ['maxErrors', { maxErrors: 'some' }, /^maxErrors must be a whole number of at least 0/],
  ])('refuses a bad %s with a 400 naming it', async (_field, patch, re) => {
    const messages = await refusal({ ...ok, ...patch });
    expect(
      messages.some((m) => re.test(m)),
      messages.join(' | '),
    ).toBe(true);
  });
});

describe('POST /v1/tasks: put, get and stdin', () => {
  const sha = 'ab'.repeat(32);
  const put = { file: sha, dest: '/etc/motd' };

  it('accepts a put, a get, and a command with stdin', async () => {
    expect(
      await refusal({ hosts: ['web1'], put: { ...put, mode: '0644', owner: 'www-data:adm', mkdir: true } }),
    ).toEqual([]);
    expect(await refusal({ hosts: ['web1'], put: { ...put, mode: '755', owner: 'root' } })).toEqual([]);
    expect(await refusal({ hosts: ['web1'], get: { path: '/var/log/syslog', maxBytes: 1024 } })).toEqual([]);
    expect(await refusal({ ...ok, stdin: sha })).toEqual([]);
  });

  it('needs exactly one of command, put or get, and stdin only with command', async () => {
    expect(await refusal({ hosts: ['web1'] })).toEqual(['one of command, put or get is required']);
    expect(await refusal({ ...ok, put })).toEqual([
      'only one of command, put or get may be given, got command and put',
    ]);
    expect(await refusal({ hosts: ['web1'], put, get: { path: '/x' } })).toEqual([
      'only one of command, put or get may be given, got put and get',
    ]);
    expect(await refusal({ hosts: ['web1'], put, stdin: sha })).toEqual(['stdin goes only with command']);
    expect(await refusal({ hosts: ['web1'], command: 42 })).toEqual(['command must be a string']);
  });

  it('names every bad field of a put or get', async () => {
    const bad = await refusal({
      hosts: ['web1'],
      put: { file: 'ABC', dest: 'etc/motd', mode: '0999', owner: 'Root', mkdir: 'yes', extra: 1 },
    });
    expect(bad).toEqual(
      expect.arrayContaining([
        'put.file must be the lowercase hex SHA-256 of an uploaded file',
        'put.dest must be an absolute path',
        'put.mode must be octal permission bits, like 0644 or 644',
        'put.owner must be user or user:group (names as useradd takes them)',
        'put.mkdir must be a boolean value',
        'put.property extra should not exist',
      ]),
    );
    expect(await refusal({ hosts: ['web1'], put: { ...put, dest: '/etc/../shadow' } })).toEqual([
      'put.dest must not hold a .. segment',
    ]);
    expect(await refusal({ hosts: ['web1'], put: { ...put, dest: '/etc/' } })).toEqual([
      'put.dest must name a file, not end with /',
    ]);
    // What the agent's codec refuses (isPrintable: C1 controls, bidi overrides) is refused here, not
    // signed and sent to come back `rejected` as malformed from every host.
    expect(await refusal({ hosts: ['web1'], put: { ...put, dest: '/srv/\u202etxt.exe' } })).toEqual([
      'put.dest must be printable: no control or bidirectional-override characters',
    ]);
    expect(await refusal({ hosts: ['web1'], get: { path: '/var/log/\u009b2J' } })).toEqual([
      'get.path must be printable: no control or bidirectional-override characters',
    ]);
    expect(await refusal({ hosts: ['web1'], get: { path: '/x', maxBytes: -1 } })).toEqual([
      'get.maxBytes must not be less than 0',
    ]);
    expect(await refusal({ hosts: ['web1'], put: 'x' })).toEqual(expect.arrayContaining(['put must be an object']));
    expect(await refusal({ ...ok, stdin: 'nope' })).toEqual([
      'stdin must be the lowercase hex SHA-256 of an uploaded file',
    ]);
  });
});

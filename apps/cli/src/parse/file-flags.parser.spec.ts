import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { destinations, parseMaxSize, parseMode, parseOwner } from './file-flags.parser';

describe('parseMode', () => {
  it.each([
    ['644', '0644'],
    ['0644', '0644'],
    ['600', '0600'],
    [' 0755 ', '0755'],
    ['000', '0000'],
  ])('reads %j as %j', (text, mode) => expect(parseMode(text)).toBe(mode));

  it.each(['', '64', '0o644', '888', '4755', '01777', '12345', 'rw-r--r--', '-644'])('refuses %j', (text) =>
    expect(() => parseMode(text)).toThrow(/octal permission bits such as 644 or 0644/),
  );
});

describe('parseOwner', () => {
  it('splits user and group at the one colon', () => {
    expect(parseOwner('deploy')).toEqual({ user: 'deploy', group: null });
    expect(parseOwner('deploy:www-data')).toEqual({ user: 'deploy', group: 'www-data' });
    expect(parseOwner('svc_1.a:grp')).toEqual({ user: 'svc_1.a', group: 'grp' });
  });

  it.each([
    ['a:b:c', /user or user:group/],
    [':staff', /"" is not a user name/],
    ['deploy:', /"" is not a group name/],
    ['-rf', /"-rf" is not a user name/],
    ['dep loy', /is not a user name/],
  ])('refuses %j', (text, message) => expect(() => parseOwner(text)).toThrow(message));
});

describe('parseMaxSize', () => {
  it('reads binary units and refuses zero and decimal units', () => {
    expect(parseMaxSize('10MiB')).toBe(10 * 1024 * 1024);
    expect(parseMaxSize('4096')).toBe(4096);
    expect(() => parseMaxSize('0')).toThrow(/above 0/);
    expect(() => parseMaxSize('10MB')).toThrow(/above 0/);
  });
});

describe('destinations (the scp rule)', () => {
  const base = (f: string) => basename(f);

  it('writes one file at --dest itself, normalised', () => {
    expect(destinations(['/home/me/motd.txt'], '/etc/motd', base)).toEqual(['/etc/motd']);
    expect(destinations(['motd.txt'], '/etc//motd', base)).toEqual(['/etc/motd']);
  });

  it('puts one file into --dest when it ends in /, and several files always', () => {
    expect(destinations(['a/app.ini'], '/etc/app/', base)).toEqual(['/etc/app/app.ini']);
    expect(destinations(['x/a', 'y/b'], '/srv', base)).toEqual(['/srv/a', '/srv/b']);
    expect(destinations(['x/a', 'y/b'], '/srv/', base)).toEqual(['/srv/a', '/srv/b']);
    expect(destinations(['x/a'], '/', base)).toEqual(['/a']);
  });

  it('refuses a relative --dest, one with .., and two files of one name into one directory', () => {
    expect(() => destinations(['a'], 'etc/motd', base)).toThrow(/must be an absolute path/);
    expect(() => destinations(['a'], '/srv/../etc/shadow', base)).toThrow(/must not contain ".."/);
    expect(() => destinations(['x/a', 'y/a'], '/srv', base)).toThrow(
      /two files are named "a": both would be written to \/srv\/a/,
    );
  });
});

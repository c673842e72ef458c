import { describe, expect, it } from 'vitest';
import { compilePattern } from './command.pattern';
import { PolicyError } from './policy.error';

const allows = (pattern: string, command: string) => compilePattern(pattern, 'allow').test(command);
const denies = (pattern: string, command: string) => compilePattern(pattern, 'deny').test(command);

describe('compilePattern: allow globs', () => {
  it('matches the whole command, * as any run of characters and ? as one', () => {
    expect(allows('df *', 'df -h /')).toBe(true);
    expect(allows('df *', 'df ')).toBe(true);
    expect(allows('df *', 'df')).toBe(false); // the space is literal
    expect(allows('df *', 'sudo df -h')).toBe(false); // anchored at the start
    expect(allows('systemctl status *', 'systemctl status nginx.service')).toBe(true);
    expect(allows('systemctl status *', 'systemctl restart nginx')).toBe(false);
    expect(allows('uptime', 'uptime -p')).toBe(false); // anchored at the end
    expect(allows('ls ?', 'ls a')).toBe(true);
    expect(allows('ls ?', 'ls ab')).toBe(false);
    expect(allows('ls ?', 'ls é')).toBe(true); // one character, not one UTF-16 unit
    expect(allows('*.log', 'tail /var/log/syslog.log')).toBe(true);
  });

  it.each([
    ['df -h; rm -rf /'],
    ['df -h && rm -rf /'],
    ['df -h & rm -rf /'],
    ['df -h | sh'],
    ['df -h || reboot'],
    ['df $(rm -rf /)'],
    ['df `rm -rf /`'],
    ['df ${IFS}'],
    ['df -h > /etc/passwd'],
    ['df < /etc/shadow'],
    ['df (x)'],
    ['df -h\nrm -rf /'],
  ])('never lets * or ? stand for a shell metacharacter: %j', (command) => {
    expect(allows('df *', command)).toBe(false);
    expect(allows('df ?*', command)).toBe(false);
    expect(allows('*', command)).toBe(false);
  });

  it('matches metacharacters the pattern spells out, still keeping wildcards off them', () => {
    expect(allows('ps aux | grep *', 'ps aux | grep nginx')).toBe(true);
    expect(allows('ps aux | grep *', 'ps aux | grep nginx | sh')).toBe(false);
    expect(allows('echo $HOME', 'echo $HOME')).toBe(true);
  });

  it('lets backslash escape a wildcard, and refuses a lone trailing backslash', () => {
    expect(allows('ls \\*', 'ls *')).toBe(true);
    expect(allows('ls \\*', 'ls a')).toBe(false);
    expect(allows('grep a\\\\.b *', 'grep a\\.b f')).toBe(true);
    expect(() => compilePattern('ls \\', 'allow')).toThrow(/ends with a lone \\/);
  });

  it('matches a long hostile command in linear time', () => {
    const command = `${'a '.repeat(30_000)};`;
    const t0 = Date.now();
    expect(allows('* * * * * * * * * * b', command)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('compilePattern: argument placeholders ({name}) in allow globs', () => {
  it('documents the hole they close: * admits options, so `systemctl status *` admits -H user@host (which runs ssh)', () => {
    expect(allows('systemctl status *', 'systemctl status -H user@host')).toBe(true);
  });

  it('pins one word that is not an option: `systemctl status {unit}` admits nginx, refuses -H user@host', () => {
    const unit = 'systemctl status {unit}';
    expect(allows(unit, 'systemctl status nginx')).toBe(true);
    expect(allows(unit, 'systemctl status nginx.service')).toBe(true);
    expect(allows(unit, 'systemctl status getty@tty1.service')).toBe(true);
    expect(allows(unit, 'systemctl status -H user@host')).toBe(false);
    expect(allows(unit, 'systemctl status --host=user@host')).toBe(false);
    expect(allows(unit, 'systemctl status -Huser@host')).toBe(false);
    expect(allows(unit, 'systemctl status nginx -H user@host')).toBe(false); // one word only
    expect(allows(unit, 'systemctl status ')).toBe(false); // at least one character
    expect(allows(unit, 'systemctl status')).toBe(false);
  });

  it.each([
    ['"-H" user@host', 'a quote the shell removes'],
    ["'-H'", 'a single quote'],
    ['\\-H', 'a backslash the shell removes'],
    ['$X', 'an expansion'],
    ['-*', 'a leading dash'],
    ['+5', 'a leading plus, an option to some programs (tail +5, sort +1)'],
    ['*', 'a pathname glob that could expand to a file named -rf'],
    ['[-]H', 'a bracket glob'],
    ['~root', 'a tilde expansion'],
    ['{-H,x}', 'a brace expansion'],
    ['../../etc/shadow', 'a slash'],
    ['..', 'a parent directory: `cat /srv/app/{name}/config.yml` must not read /srv/config.yml'],
    ['.', 'the directory itself'],
    ['.hidden', 'a leading dot'],
    ['@opts', 'an argument file of options (gcc @file, javac @file)'],
    ['a\tb', 'whitespace'],
    ['nginx;reboot', 'a metacharacter'],
  ])('never lets a placeholder stand for what the shell would rewrite: %j (%s)', (arg) => {
    expect(allows('systemctl status {unit}', `systemctl status ${arg}`)).toBe(false);
  });

  it('combines with literal text, other placeholders and wildcards, and leaves other braces literal', () => {
    expect(allows('journalctl -u {unit}.service -n {lines}', 'journalctl -u nginx.service -n 100')).toBe(true);
    expect(allows('journalctl -u {unit}.service -n {lines}', 'journalctl -u nginx.service -n -100')).toBe(false);
    expect(allows('kill -{signal} {pid}', 'kill -HUP 1234')).toBe(true);
    expect(allows('find /var/log -name {name} -exec ls {} +', 'find /var/log -name syslog -exec ls {} +')).toBe(true); // `{}` is no placeholder
    expect(allows('echo \\{unit}', 'echo {unit}')).toBe(true); // escaped: the literal text
    expect(allows('echo \\{unit}', 'echo nginx')).toBe(false);
  });

  it('is refused in a deny glob, where it could only catch less than *', () => {
    expect(() => compilePattern('systemctl stop {unit}', 'deny')).toThrow(PolicyError);
    expect(() => compilePattern('systemctl stop {unit}', 'deny')).toThrow(/only an allow entry can do/);
  });

  it('matches a long hostile command in linear time', () => {
    const command = `x ${'a'.repeat(30_000)} ${'a '.repeat(30_000)};`;
    const t0 = Date.now();
    expect(allows('x {a}{b}{c}{d}{e}{f}{g}{h} * {i} b', command)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(2_000);
  });
});

describe('compilePattern: deny globs', () => {
  it('lets wildcards match metacharacters too, so a deny entry catches chained commands', () => {
    expect(denies('*rm -rf /*', 'cd /tmp; rm -rf / --no-preserve-root')).toBe(true);
    expect(denies('*rm -rf /*', 'echo $(rm -rf /)')).toBe(true);
    expect(denies('rm -rf /*', 'cd /; rm -rf /')).toBe(false); // still anchored: whole command
  });
});

describe('compilePattern: regexes', () => {
  it('treats /.../ as a regex, searched anywhere unless it anchors itself', () => {
    expect(compilePattern('/shutdown|reboot/', 'deny')).toMatchObject({ kind: 'regex' });
    expect(denies('/shutdown|reboot/', 'sleep 1; reboot')).toBe(true);
    expect(allows('/^uptime$/', 'uptime')).toBe(true);
    expect(allows('/^uptime$/', 'uptime; rm -rf /')).toBe(false);
    expect(allows('/uptime/', 'rm -rf /; uptime')).toBe(true); // no metacharacter protection: the documented caveat
  });

  it('takes the i flag, and escaped slashes inside', () => {
    expect(denies('/REBOOT/i', 'reboot')).toBe(true);
    expect(denies('/REBOOT/', 'reboot')).toBe(false);
    expect(allows('/^ls \\/var\\/log$/', 'ls /var/log')).toBe(true);
  });

  it('keeps absolute paths globs, even those that look like /x/flags', () => {
    for (const path of ['/usr/bin/uptime', '/bin/su', '/sbin/reboot']) {
      expect(compilePattern(path, 'allow')).toMatchObject({ kind: 'glob' });
      expect(allows(path, path)).toBe(true);
      expect(allows(path, `echo ${path}`)).toBe(false);
    }
    expect(compilePattern('/usr/bin/df *', 'allow').kind).toBe('glob');
  });

  it('reports an invalid regex or an empty pattern as a PolicyError', () => {
    expect(() => compilePattern('/(/', 'deny')).toThrow(PolicyError);
    expect(() => compilePattern('/(/', 'deny')).toThrow(/Invalid regular expression.*Unterminated group/);
    expect(() => compilePattern('', 'allow')).toThrow(/must not be empty/);
  });
});

/** errno codes a file transfer meets, in words (as `strerror` says them). */
const WORDS: Record<string, string> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EROFS: 'read-only file system',
  EEXIST: 'file exists',
  ELOOP: 'too many levels of symbolic links',
  EIO: 'input/output error',
  EFBIG: 'file too large',
  EMFILE: 'too many open files',
  ENAMETOOLONG: 'file name too long',
  EXDEV: 'cross-device link',
  EBUSY: 'device or resource busy',
  ETXTBSY: 'text file busy',
};

/**
 * One line for a failed file operation, for a `failed` result's reason:
 * `no space left on device (ENOSPC) writing /etc/motd`. `doing` is the verb and object
 * (`writing /etc/motd`); an error without an errno code gives its message.
 */
export function describeFsError(err: unknown, doing: string): string {
  const e = err as NodeJS.ErrnoException;
  const code = typeof e?.code === 'string' ? e.code : null;
  if (code === null) return `${(e as Error)?.message ?? String(err)} ${doing}`;
  return `${WORDS[code] ?? (e.message.split(',')[0] || code).toLowerCase()} (${code}) ${doing}`;
}

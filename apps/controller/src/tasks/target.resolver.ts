import { Injectable } from '@nestjs/common';
import {
  expandHostPattern,
  foldHosts,
  HostPatternError,
  hostPatternSize,
  isGlob,
  matchHosts,
  naturalCompare,
} from '@warren/api';
import { LIMITS } from '@warren/protocol';
import { BadQueryError, UnprocessableTaskError } from '../errors/errors';
import { matchGlobs } from './glob.matching';
import { HostsRegistry } from '../hosts/hosts.registry';

/** Which hosts a task is for, as `POST /v1/tasks` takes it. At least one of the three. */
export interface TargetSelector {
  /** names, ranges (`web[01-20]`) and globs (`web*`) */
  hosts?: string[];
  /** `k=v` pairs a host's labels must all have */
  labels?: Record<string, string>;
  /** every usable host (narrowed by `labels` if given) */
  all?: boolean;
}

/** A host as presence knows it, reduced to what targeting needs. */
export interface KnownHost {
  host: string;
  status: 'online' | 'offline';
  labels: Record<string, string>;
  /** it has an accepted key, so commands are sent to it */
  trusted: boolean;
}

/** What a selector resolved to. */
export interface ResolvedTarget {
  /** the task's hosts, in order: named hosts as given, matches of globs, labels and `all` in natural order */
  hosts: string[];
  /** known hosts a glob, a label or `all` matched but that are left out, and why */
  excluded: { host: string; reason: 'offline' | 'key not accepted' }[];
  /** globs that matched no usable host */
  unmatched: string[];
}

/** Most globs one target may hold: each is matched against every known host, where names and ranges cost only their size. */
export const MAX_TARGET_GLOBS = 100;

/** A selector's cheap part, read before any host is looked at: the names it spells out, and its globs. */
export interface TargetPlan {
  /** names and the expansions of ranges, in order, without repeats */
  names: string[];
  /** the glob patterns, as given */
  globs: string[];
}

/**
 * Reads a selector without looking at any host: throws {@link BadQueryError} (400) for a selector
 * that cannot be read or more than {@link MAX_TARGET_GLOBS} globs, `HostPatternError` (400) for an
 * unreadable pattern, and {@link UnprocessableTaskError} (422) the moment the running total of the
 * names that names and ranges stand for (repeats counted) passes `max`, before expanding any.
 * Time and memory are bounded by `max` and the request's size.
 */
export function planTarget(sel: TargetSelector, max: number = LIMITS.hostsPerTask): TargetPlan {
  const patterns = sel.hosts ?? [];
  const labelCount = Object.keys(sel.labels ?? {}).length;
  if (sel.all && patterns.length > 0)
    throw new BadQueryError(
      'all cannot be combined with hosts: all already means every online host (narrow it with labels)',
    );
  if (!sel.all && patterns.length === 0 && labelCount === 0)
    throw new BadQueryError('say which hosts: give hosts (names, ranges, globs), labels, or all');
  const globs = patterns.filter(isGlob);
  if (globs.length > MAX_TARGET_GLOBS)
    throw new BadQueryError(
      `hosts holds ${globs.length} globs, more than the ${MAX_TARGET_GLOBS} one task may have; list names or ranges, or use labels`,
    );
  const ranges = patterns.filter((p) => !isGlob(p));
  let total = 0;
  for (const pattern of ranges) {
    const size = hostPatternSize(pattern, 'hosts');
    if (size > max)
      throw new HostPatternError(pattern, `expands to ${size} names, more than the limit of ${max}`, 'hosts');
    total += size;
    if (total > max)
      throw new UnprocessableTaskError(
        `the names and ranges in hosts stand for more than the ${max} hosts one task may have (counted up to ${JSON.stringify(pattern)}); narrow them`,
      );
  }
  const names = new Set<string>();
  for (const pattern of ranges) for (const h of expandHostPattern(pattern, max, 'hosts')) names.add(h);
  return { names: [...names], globs };
}

/**
 * Resolves a selector against the hosts presence knows, pdsh/ClusterShell style:
 *
 * - a **name or range** (`db1`, `web[01-20]`) names hosts whether or not an agent is known for them
 *   (an unknown one ends `unknown_host`, an offline one `undelivered`: asking by name is explicit);
 * - a **glob**, **labels** and **all** select among *usable* hosts: online now, with an accepted key
 *   (as Salt targets only accepted minions). Known hosts they match but leave out are listed in
 *   `excluded`, so a dry run shows them, rather than making every run wait a delivery timeout for
 *   machines that are gone;
 * - selectors **intersect**: `hosts: ['web*'], labels: {zone: 'eu'}` is the web hosts in zone eu;
 *   a named host kept by a label filter must be known to presence with those labels.
 *
 * Throws `HostPatternError` (`@warren/api`, 400, its message `hosts: host pattern …`) for an
 * unreadable pattern, {@link BadQueryError} (400) for a selector that cannot be read, and
 * {@link UnprocessableTaskError} (422) when nothing matches or the result is too large.
 */
export function resolveTarget(
  sel: TargetSelector,
  known: KnownHost[],
  max: number = LIMITS.hostsPerTask,
  /** each glob's matches among `known`, found beforehand without blocking ({@link matchGlobs}); else matched here */
  globMatches?: ReadonlyMap<string, string[]>,
): ResolvedTarget {
  const { names, globs } = planTarget(sel, max);
  const labels = Object.entries(sel.labels ?? {});
  const byName = new Map(known.map((k) => [k.host, k]));
  const usable = (k: KnownHost) => k.status === 'online' && k.trusted;
  const whyNot = (k: KnownHost) =>
    (k.status !== 'online' ? 'offline' : 'key not accepted') as 'offline' | 'key not accepted';
  const chosen = new Set<string>();
  const excluded = new Map<string, 'offline' | 'key not accepted'>();
  const unmatched: string[] = [];
  const consider = (k: KnownHost) => (usable(k) ? chosen.add(k.host) : excluded.set(k.host, whyNot(k)));

  for (const h of names) chosen.add(h);
  for (const pattern of globs) {
    const hosts = globMatches?.get(pattern) ?? matchHosts(pattern, byName.keys(), max, 'hosts');
    const matches = hosts.map((h) => byName.get(h)!);
    matches.forEach(consider);
    if (!matches.some(usable)) unmatched.push(pattern);
  }
  if (names.length === 0 && globs.length === 0)
    [...known].sort((a, b) => naturalCompare(a.host, b.host)).forEach(consider);

  let hosts = [...chosen];
  if (labels.length > 0) {
    const fits = (h: string) => {
      const k = byName.get(h);
      return k !== undefined && labels.every(([key, value]) => k.labels[key] === value);
    };
    hosts = hosts.filter(fits);
    for (const h of [...excluded.keys()]) if (!fits(h)) excluded.delete(h);
  }
  const out = [...excluded].map(([host, reason]) => ({ host, reason })).sort((a, b) => naturalCompare(a.host, b.host));
  if (hosts.length === 0) throw new UnprocessableTaskError(nothingMatches(sel, known, out));
  if (hosts.length > max)
    throw new UnprocessableTaskError(
      `the target matches ${hosts.length} hosts, more than the ${max} one task may have; narrow it`,
    );
  return { hosts, excluded: out, unmatched };
}

/**
 * The known host whose id differs from `host` only in letter case (`Web01.Example.COM` for
 * `web01.example.com`), or null. Host ids stay case-sensitive, as the queue names made of them are
 * (a case-folded match would send to a queue no agent reads); this only lets a refusal say which
 * host was meant. The first in natural order when several differ so.
 */
export function caseTwin(host: string, known: Iterable<string>): string | null {
  const folded = host.toLowerCase();
  const twins = [...known].filter((k) => k !== host && k.toLowerCase() === folded).sort(naturalCompare);
  return twins[0] ?? null;
}

/** The reason of an `unknown_host` verdict, naming the known host that differs only in case, if any. */
export function unknownHostReason(host: string, known: Iterable<string>): string {
  const twin = caseTwin(host, known);
  const base = `no agent has announced host ${host} to this controller`;
  return twin ? `${base}; host ids are case-sensitive, and ${twin} is known (differs only in case)` : base;
}

/** `hosts web*,db1 labels zone=eu`: the selector in the words of the request. */
export function describeSelector(sel: TargetSelector): string {
  const parts: string[] = [];
  if (sel.hosts?.length) parts.push(`hosts ${sel.hosts.join(',')}`);
  const labels = Object.entries(sel.labels ?? {});
  if (labels.length) parts.push(`labels ${labels.map(([k, v]) => `${k}=${v}`).join(',')}`);
  if (sel.all) parts.push('all');
  return parts.join(' ');
}

function nothingMatches(sel: TargetSelector, known: KnownHost[], excluded: ResolvedTarget['excluded']): string {
  const online = known.filter((k) => k.status === 'online' && k.trusted).length;
  let text = `no host matches the target (${describeSelector(sel)}); nothing was sent. ${online} usable host${online === 1 ? ' is' : 's are'} online`;
  for (const reason of ['offline', 'key not accepted'] as const) {
    const left = excluded.filter((e) => e.reason === reason).map((e) => e.host);
    if (left.length > 0)
      text += `; ${left.length} matching known host${left.length === 1 ? ' is' : 's are'} ${reason === 'offline' ? 'offline' : 'without an accepted key'}: ${foldHosts(left)}`;
  }
  return text;
}

/**
 * {@link resolveTarget} against the live presence registry, seen through `visible` (a host-limited
 * token's scope): globs, labels and `all` select only among hosts it lets through, and a refusal
 * names and counts no other host. Globs are matched in slices that let the event loop turn.
 */
@Injectable()
export class TargetResolver {
  constructor(private readonly registry: HostsRegistry) {}

  async resolve(sel: TargetSelector, visible: (host: string) => boolean = () => true): Promise<ResolvedTarget> {
    const { globs } = planTarget(sel);
    const known = this.registry.targets().filter((h) => visible(h.host));
    const globMatches = await matchGlobs(
      globs,
      known.map((k) => k.host),
    );
    return resolveTarget(sel, known, LIMITS.hostsPerTask, globMatches);
  }
}

import { useEffect, useState } from 'preact/hooks';

/**
 * Client-side routes over the History API, so that every view is a link that can be shared
 * (`/tasks/t_…`): the controller answers any such path with the page (SPA fallback).
 */
const listeners = new Set<() => void>();

/** Goes to `path` (pathname and query) without reloading the page. */
export function navigate(path: string, replace = false): void {
  if (replace) history.replaceState(null, '', path);
  else history.pushState(null, '', path);
  for (const l of listeners) l();
}

window.addEventListener('popstate', () => {
  for (const l of listeners) l();
});

/** The current location, re-rendering on each navigation. */
export function useLocation(): { path: string; params: URLSearchParams } {
  const [, bump] = useState(0);
  useEffect(() => {
    const l = () => bump((n) => n + 1);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return { path: location.pathname, params: new URLSearchParams(location.search) };
}

/** An `onClick` for an `<a href>` inside the console: navigates in place unless a modifier asks for a new tab. */
export function follow(e: MouseEvent): void {
  const a = e.currentTarget as HTMLAnchorElement;
  if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  e.preventDefault();
  navigate(a.getAttribute('href')!);
}

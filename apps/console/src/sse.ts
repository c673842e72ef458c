import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { authHeaders, checkUnauthorized } from './api';

/** How the follower is doing, for the page to say so. */
export type FollowState = 'connecting' | 'live' | 'reconnecting' | 'ended';

/** What {@link followEvents} reports. */
export interface FollowHandlers {
  /** each event, once, in order */
  onEvent(event: EventSourceMessage): void;
  onState(state: FollowState, detail?: string): void;
}

const RETRY_MS = 1_000;
/** characters of the stream parsed at once before the page gets a turn */
const SLICE_CHARS = 16_384;
const MAX_RETRY_MS = 10_000;

/**
 * Reads `GET /v1/tasks/:id/events` with `fetch` (so it carries the bearer token, which
 * `EventSource` cannot), and after a dropped connection reconnects with `Last-Event-ID`: the
 * controller resumes after the last event handed on, so none is lost and none repeated. Ends after
 * `completed`, when `signal` aborts, or on a 401 (signed out), 403 or 404.
 */
export async function followEvents(taskId: string, handlers: FollowHandlers, signal: AbortSignal): Promise<void> {
  let lastEventId: string | null = null;
  let delay = RETRY_MS;
  while (!signal.aborted) {
    handlers.onState(lastEventId ? 'reconnecting' : 'connecting');
    let completed = false;
    try {
      const headers = authHeaders();
      if (lastEventId) headers['last-event-id'] = lastEventId;
      const res = await fetch(`/v1/tasks/${encodeURIComponent(taskId)}/events`, {
        headers,
        signal,
        cache: 'no-store',
      });
      checkUnauthorized(res);
      if ([401, 403, 404].includes(res.status)) {
        handlers.onState('ended', `HTTP ${res.status}`);
        return;
      }
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      handlers.onState('live');
      delay = RETRY_MS;
      // A new parser per connection: a half-received event of a dropped one is never handed on.
      const parser = createParser({
        onEvent(event) {
          if (event.id) lastEventId = event.id;
          if (event.event === 'completed') completed = true;
          handlers.onEvent(event);
        },
      });
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        // A burst (a resume replaying thousands of events) is fed in slices with a yield between
        // them, so that no slice holds the page for longer than a frame or so.
        for (let at = 0; at < value.length; at += SLICE_CHARS) {
          if (at > 0) await new Promise((r) => setTimeout(r, 0));
          parser.feed(value.slice(at, at + SLICE_CHARS));
        }
      }
      if (completed) {
        handlers.onState('ended');
        return;
      }
    } catch (err) {
      if (signal.aborted) return;
      handlers.onState('reconnecting', (err as Error).message);
    }
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, MAX_RETRY_MS);
  }
}

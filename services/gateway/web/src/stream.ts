// The account's live stream (GET /accounts/{id}/stream): server-sent events read with fetch, which
// can send the bearer token (EventSource cannot), parsed by eventsource-parser. Reconnects with
// back-off until stopped.

import { EventSourceParserStream } from 'eventsource-parser/stream';

export interface StreamHandlers {
  onEvent(event: string, data: unknown): void;
  onState(state: 'open' | 'reconnecting' | 'closed'): void;
}

export function openStream(path: string, token: string, handlers: StreamHandlers): () => void {
  const controller = new AbortController();
  let attempt = 0;

  const run = async () => {
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(path, {
          headers: { authorization: `Bearer ${token}`, accept: 'text/event-stream' },
          signal: controller.signal,
        });
        if (!response.ok || !response.body) throw new Error(`stream answered ${response.status}`);
        attempt = 0;
        handlers.onState('open');
        const events = response.body
          .pipeThrough(new TextDecoderStream())
          .pipeThrough(new EventSourceParserStream())
          .getReader();
        for (;;) {
          const { value, done } = await events.read();
          if (done) break;
          dispatch(value.event ?? 'message', value.data, handlers);
        }
      } catch {
        if (controller.signal.aborted) break;
      }
      if (controller.signal.aborted) break;
      handlers.onState('reconnecting');
      attempt += 1;
      await new Promise((resolve) => setTimeout(resolve, Math.min(10_000, 500 * 2 ** attempt)));
    }
    handlers.onState('closed');
  };
  void run();
  return () => controller.abort();
}

function dispatch(event: string, data: string, handlers: StreamHandlers): void {
  try {
    handlers.onEvent(event, JSON.parse(data));
  } catch {
    // not JSON: not ours
  }
}

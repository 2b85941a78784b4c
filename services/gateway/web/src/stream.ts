// The account's live stream (GET /accounts/{id}/stream): server-sent events read with fetch, which
// can send the bearer token (EventSource cannot). Reconnects with back-off until stopped.

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
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end = buffer.indexOf('\n\n');
          while (end >= 0) {
            dispatch(buffer.slice(0, end), handlers);
            buffer = buffer.slice(end + 2);
            end = buffer.indexOf('\n\n');
          }
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

function dispatch(block: string, handlers: StreamHandlers): void {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith(':')) continue; // a comment: keep-alive
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).trimStart());
  }
  if (data.length === 0) return;
  try {
    handlers.onEvent(event, JSON.parse(data.join('\n')));
  } catch {
    // not JSON: not ours
  }
}

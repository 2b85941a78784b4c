import { describe, expect, it } from 'vitest';
import { Slots, SlotsFull } from '../src/slots.ts';

/** A piece of work that runs until the test lets it finish. */
function held() {
  let finish = () => {};
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return { work: () => done, finish };
}

describe('Slots with a bounded queue', () => {
  it('runs `size` at once, queues `maxWaiting`, and refuses the rest at once', async () => {
    const slots = new Slots(2, { maxWaiting: 1 });
    const pieces = [held(), held(), held()];
    const running = pieces.map((piece) => slots.run(piece.work));
    expect(slots.queued).toBe(1);
    await expect(slots.run(async () => 'too many')).rejects.toBeInstanceOf(SlotsFull);
    for (const piece of pieces) piece.finish();
    await Promise.all(running);
    expect(slots.queued).toBe(0);
    // room again once the work is done
    expect(await slots.run(async () => 'ran')).toBe('ran');
  });

  it('queues without bound when no maxWaiting is given', async () => {
    const slots = new Slots(1);
    const pieces = Array.from({ length: 50 }, () => held());
    const running = pieces.map((piece) => slots.run(piece.work));
    expect(slots.queued).toBe(49);
    for (const piece of pieces) piece.finish();
    await Promise.all(running);
  });
});

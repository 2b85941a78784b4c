import { describe, expect, it } from 'vitest';
import { isOn, SCENARIOS, scenarioNamed } from '../src/scenarios.ts';

describe('the named fault scenarios', () => {
  it('each turns off exactly what it turns on, back to no fault, and says what to watch', () => {
    expect(new Set(SCENARIOS.map((s) => s.name)).size).toBe(SCENARIOS.length);
    for (const scenario of SCENARIOS) {
      expect(Object.keys(scenario.off).sort(), scenario.name).toEqual(Object.keys(scenario.on).sort());
      expect(
        Object.values(scenario.off).every((v) => v === 0),
        scenario.name,
      ).toBe(true);
      expect(scenario.watch.length, scenario.name).toBeGreaterThan(20);
    }
  });

  it('is on when every setting it turns on has that value, whatever else is set', () => {
    const down = scenarioNamed('exchange-down');
    expect(down).toBeDefined();
    if (!down) return;
    expect(isOn(down, { error_rate: 1, latency_ms: 800 })).toBe(true);
    expect(isOn(down, { error_rate: 0.5 })).toBe(false);
    expect(isOn(down, {})).toBe(false);
    expect(scenarioNamed('nonsense')).toBeUndefined();
  });
});

import { context, SpanKind } from '@opentelemetry/api';
import { SamplingDecision } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { chassisSampler, samplerFromEnv } from '../src/sampler.ts';

const traceId = '0af7651916cd43dd8448eb211c80319c';
const decide = (name: string, env: NodeJS.ProcessEnv = {}) =>
  chassisSampler(env).shouldSample(context.active(), traceId, name, SpanKind.CLIENT, {}, []).decision;

describe('the chassis sampler', () => {
  it('leaves out the spans of BEGIN and COMMIT, and keeps every other query and ROLLBACK', () => {
    expect(decide('pg.query:BEGIN simplebank_orders')).toBe(SamplingDecision.NOT_RECORD);
    expect(decide('pg.query:COMMIT simplebank_orders')).toBe(SamplingDecision.NOT_RECORD);
    expect(decide('pg.query:COMMIT')).toBe(SamplingDecision.NOT_RECORD);
    for (const name of [
      'pg.query:ROLLBACK simplebank_orders',
      'pg.query:INSERT simplebank_orders',
      'pg.query:BEGINNING',
      'POST /shares/sell',
    ])
      expect(decide(name), name).toBe(SamplingDecision.RECORD_AND_SAMPLED);
  });

  it('samples the rest as OTEL_TRACES_SAMPLER says, parent-based always-on by default', () => {
    expect(samplerFromEnv({}).toString()).toMatch(/^ParentBased\{root=AlwaysOnSampler/);
    expect(decide('POST /shares/sell', { OTEL_TRACES_SAMPLER: 'always_off' })).toBe(
      SamplingDecision.NOT_RECORD,
    );
    expect(
      decide('POST /shares/sell', { OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0' }),
    ).toBe(SamplingDecision.NOT_RECORD);
    expect(
      samplerFromEnv({
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }).toString(),
    ).toContain('TraceIdRatioBased{0.25}');
  });
});

import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/**
 * `BEGIN` and `COMMIT` of every transaction: their time is inside the handler's own span, and a
 * span each would be two of the ~8 query spans of a typical handler, all serialized and exported
 * (the bench's profiles: export is about a fifth of a service's CPU). `ROLLBACK` stays: it is rare
 * and says something went wrong.
 */
const TRANSACTION_CONTROL = /^pg\.query:(BEGIN|COMMIT)( |$)/;

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name (default parent-based always-on). */
export function samplerFromEnv(env: NodeJS.ProcessEnv = process.env): Sampler {
  const arg = Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1);
  const ratio = () => new TraceIdRatioBasedSampler(Number.isFinite(arg) && arg >= 0 && arg <= 1 ? arg : 1);
  switch (env.OTEL_TRACES_SAMPLER?.trim()) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return ratio();
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: ratio() });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

/** The environment's sampler, less the spans of transaction control statements. */
export function chassisSampler(env: NodeJS.ProcessEnv = process.env): Sampler {
  const base = samplerFromEnv(env);
  return {
    shouldSample(context, traceId, name, kind, attributes, links) {
      if (TRANSACTION_CONTROL.test(name)) return { decision: SamplingDecision.NOT_RECORD };
      return base.shouldSample(context, traceId, name, kind, attributes, links);
    },
    toString: () => `WithoutTransactionControl{${base.toString()}}`,
  };
}

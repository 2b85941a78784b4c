export * from './api.ts';
export * from './event.ts';
export * from './events.ts';
export * from './fee-schedule.ts';
export * from './money.ts';
export * from './ports.ts';
export * from './rpc.ts';
export * from './topology.ts';

export { type Backend, Balancer } from './balancer.ts';
export { infrastructure, missingInfrastructure, reachable } from './infrastructure.ts';
export { readableLine } from './logs.ts';
export { SAGA_SERVICES, SERVICES, type ServiceName } from './services.ts';
export { INSTANCE_PORT_STEP, instanceCounts, instanceLabel, Stack, type StackOptions } from './stack.ts';

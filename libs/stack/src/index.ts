export { infrastructure, missingInfrastructure, reachable } from './infrastructure.ts';
export { readableLine } from './logs.ts';
export { SAGA_SERVICES, SERVICES, type ServiceName } from './services.ts';
export { Stack, type StackOptions } from './stack.ts';

export { type Backend, Balancer } from './balancer.ts';
export {
  type BrokerUser,
  brokerDefinitions,
  rabbitPasswordHash,
  rabbitPasswordMatches,
} from './broker-definitions.ts';
export { type BrokerGrant, brokerUser, provisionBrokerUsers } from './broker-users.ts';
export { infrastructure, missingInfrastructure, reachable } from './infrastructure.ts';
export { readableLine } from './logs.ts';
export { SAGA_SERVICES, SERVICES, type ServiceName } from './services.ts';
export { INSTANCE_PORT_STEP, instanceCounts, instanceLabel, Stack, type StackOptions } from './stack.ts';

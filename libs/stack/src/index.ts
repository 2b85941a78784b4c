export { type Backend, Balancer } from './balancer.ts';
export {
  type BrokerUser,
  brokerDefinitions,
  rabbitPasswordHash,
  rabbitPasswordMatches,
} from './broker-definitions.ts';
export {
  type ContainerStarter,
  type ContainersSetting,
  chooseInfrastructure,
  containersSetting,
  ensureInfrastructure,
  type InfrastructureChoice,
  type RunInfrastructure,
  SERVER_IMAGES,
} from './containers.ts';
export {
  infrastructure,
  type MissingServer,
  missingInfrastructure,
  missingServers,
  reachable,
  type ServerName,
  withoutCredentials,
} from './infrastructure.ts';
export { readableLine } from './logs.ts';
export { ORDER_PATH, SAGA_SERVICES, SERVICES, type ServiceName } from './services.ts';
export {
  INSTANCE_PORT_STEP,
  instanceCounts,
  instanceLabel,
  nodeArguments,
  Stack,
  type StackOptions,
} from './stack.ts';

export * from './topology';
export * from './users';
export * from './tls';
export * from './query-rules';
export * from './options';
export { HostgroupRole } from './metrics';

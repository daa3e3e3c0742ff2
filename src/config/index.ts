export * from './topology';
export * from './users';
export * from './query-rules';
export * from './options';
export { HostgroupRole } from './metrics';

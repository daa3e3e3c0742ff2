export * from './config';
export * from './endpoint';
export * from './backend';
export * from './aurora-backend';
export * from './proxysql-fargate';
export * from './observability-options';
export * from './private-dns-aliases';
export * from './lambda-demo-api/lambda-demo-api';

export type {
  AvroSchema,
  AvroRecordSchema,
  AvroField,
  AvroEnumSchema,
  AvroArraySchema,
  AvroMapSchema,
  AvroFixedSchema,
  AvroPrimitive,
} from './avro-schema.js';
export { defineEventType, subjectOf } from './event-type.js';
export { defineStep } from './step-descriptor.js';
export type { StepDescriptor } from './step-descriptor.js';
export type { EventType, PayloadOf } from './event-type.js';
export type { EventCodec, DecodedEvent } from './event-codec.js';
export { SchemaRegistryError } from './errors.js';
export type { SchemaRegistryErrorCode } from './errors.js';
export { MemorySchemaRegistry } from './memory-registry.js';
export type { MemorySchemaRegistryOptions } from './memory-registry.js';
export type { SchemaRegistryClient, RegisteredVersion } from './registry-client.js';
export { AvroEventCodec } from './avro-codec.js';
export { frame, unframe, MAGIC_BYTE } from './framing.js';
export { avroTypeOf, payloadProblems } from './avro-types.js';
export type { PayloadProblem } from './avro-types.js';
export {
  COMPATIBILITY_LEVELS,
  isCompatibilityLevel,
  checkCompatibility,
  formatCompatibility,
  explainIncompatibility,
} from './compatibility.js';
export type { CompatibilityLevel, CompatibilityProblem, CompatibilityResult } from './compatibility.js';
export { ConfluentSchemaRegistry } from './confluent-registry.js';
export type { ConfluentSchemaRegistryOptions } from './confluent-registry.js';
export { MEMORY_REGISTRY_URL, createSchemaRegistry } from './registry-factory.js';
export type { CreateSchemaRegistryOptions } from './registry-factory.js';
export { inspectCatalog, loadCatalog, formatProblem } from './catalog.js';
export type { Catalog, CatalogEvent, CatalogContract, CatalogProblem } from './catalog.js';
export { generateModule } from './codegen.js';
export type { CodegenOptions } from './codegen.js';
export { SAGA_CONTRACT_FORMAT } from './contract-format.js';
export { contractChanges } from './contract-versions.js';
export type { ContractChange } from './contract-versions.js';
export { buildSchemasCli, runSchemasCli } from './cli/program.js';
export {
  CliExit,
  EXIT,
  brokersOption,
  createCli,
  describeCliError,
  integerAtLeast,
  packageVersion,
  processIo,
  registryOption,
  requireBrokers,
  requireRegistry,
  runCli,
  runMain,
  usageError,
} from './cli/cli-kit.js';
export type { CliIo, CliSpec, ExitCode, RunCliOptions } from './cli/cli-kit.js';
export {
  addConnectionOptions,
  kafkaConnectionOptions,
  registryAuthOptions,
  requireKafkaConnection,
  registryConnectionOf,
} from './cli/connection-options.js';
export { planAcls, renderAclCommands } from './acl/acl-plan.js';
export type { AclEntry, AclOperation, AclPatternType, AclPlanOptions, AclResourceType, AclRole, ServiceAcls } from './acl/acl-plan.js';

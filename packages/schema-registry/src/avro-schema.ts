/**
 * The JSON shape of an Avro schema as it is written in `.avsc` files. Kept structural (not avsc's
 * classes) so descriptors can be serialised, compared and sent to a registry unchanged.
 */
export type AvroPrimitive = 'null' | 'boolean' | 'int' | 'long' | 'float' | 'double' | 'bytes' | 'string';

export type AvroSchema =
  | string // a primitive type name, or a named type referenced by (full) name
  | AvroSchema[] // a union
  | AvroRecordSchema
  | AvroEnumSchema
  | AvroArraySchema
  | AvroMapSchema
  | AvroFixedSchema
  | AvroPrimitiveWithLogicalType;

export interface AvroField {
  readonly name: string;
  readonly type: AvroSchema;
  readonly doc?: string;
  readonly default?: unknown;
  readonly aliases?: readonly string[];
  readonly order?: 'ascending' | 'descending' | 'ignore';
}

export interface AvroRecordSchema {
  readonly type: 'record' | 'error';
  readonly name: string;
  readonly namespace?: string;
  readonly doc?: string;
  readonly aliases?: readonly string[];
  readonly fields: readonly AvroField[];
}

export interface AvroEnumSchema {
  readonly type: 'enum';
  readonly name: string;
  readonly namespace?: string;
  readonly symbols: readonly string[];
  readonly default?: string;
  readonly aliases?: readonly string[];
  readonly doc?: string;
}

export interface AvroArraySchema {
  readonly type: 'array';
  readonly items: AvroSchema;
}

export interface AvroMapSchema {
  readonly type: 'map';
  readonly values: AvroSchema;
}

export interface AvroFixedSchema {
  readonly type: 'fixed';
  readonly name: string;
  readonly namespace?: string;
  readonly size: number;
  readonly aliases?: readonly string[];
}

export interface AvroPrimitiveWithLogicalType {
  readonly type: AvroPrimitive;
  readonly logicalType?: string;
  readonly [attribute: string]: unknown;
}

/**
 * Reading JSON the code did not make itself (API responses, stored state) without trusting its
 * shape: each helper checks one field and names it when it is wrong.
 */

import { isU32 } from "./bytes.js";
import { fromBase64 } from "./encoding.js";
import { CryptoError } from "./error.js";

/** A JSON object, its fields not yet checked. */
export type JsonObject = { readonly [field: string]: unknown };

function invalid(reason: string): CryptoError {
  return new CryptoError({ kind: "InvalidEncoding", reason });
}

export function object(value: unknown, what: string): JsonObject {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw invalid(`${what} must be an object`);
  return value as JsonObject;
}

export function objectField(value: JsonObject, field: string): JsonObject {
  return object(value[field], `"${field}"`);
}

export function arrayField(value: JsonObject, field: string): readonly unknown[] {
  const item = value[field];
  if (!Array.isArray(item)) throw invalid(`"${field}" must be an array`);
  return item;
}

export function stringField(value: JsonObject, field: string): string {
  const item = value[field];
  if (typeof item !== "string") throw invalid(`"${field}" must be a string`);
  return item;
}

export function booleanField(value: JsonObject, field: string): boolean {
  const item = value[field];
  if (typeof item !== "boolean") throw invalid(`"${field}" must be true or false`);
  return item;
}

export function u32Field(value: JsonObject, field: string): number {
  const item = value[field];
  if (typeof item !== "number" || !isU32(item)) throw invalid(`"${field}" must be an integer from 0 to 4294967295`);
  return item;
}

/** A non-negative integer JavaScript holds exactly (a Rust `usize` bound, say). */
export function countField(value: JsonObject, field: string): number {
  const item = value[field];
  if (typeof item !== "number" || !Number.isSafeInteger(item) || item < 0) {
    throw invalid(`"${field}" must be a non-negative integer`);
  }
  return item;
}

/** Bytes given as a base64 string, of exactly `length` bytes when a length is given. */
export function base64Value(item: unknown, what: string, length?: number): Uint8Array {
  if (typeof item !== "string") throw invalid(`${what} must be a base64 string`);
  const bytes = fromBase64(item);
  if (length !== undefined && bytes.length !== length) throw invalid(`${what} must hold ${length} bytes`);
  return bytes;
}

export function base64Field(value: JsonObject, field: string, length?: number): Uint8Array {
  return base64Value(value[field], `"${field}"`, length);
}

/** Whether a field is absent or `null`, which serde reads as `None`. */
export function isAbsent(value: JsonObject, field: string): boolean {
  return value[field] === undefined || value[field] === null;
}

/** Runs a decoder of stored state, reporting any shape error as `StateDecoding`. */
export function storedState<T>(decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof CryptoError) throw new CryptoError({ kind: "StateDecoding", reason: error.message });
    throw error;
  }
}

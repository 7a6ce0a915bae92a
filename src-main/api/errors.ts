// One error shape crosses the transports. Errors from the store, the engine and validation are
// translated here so the renderer can react to a code and show the message as is.
import { z } from 'zod';
import { EngineError } from '../engine/types.js';
import { StoreError } from '../store/errors.js';
import type { ApiErrorCode, ApiErrorShape } from './contract.js';

export class ApiError extends Error {
  constructor(
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

function describeZodError(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'The request was not valid.';
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `Invalid request — ${where}${issue.message}`;
}

export function toApiError(error: unknown): ApiErrorShape {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  if (error instanceof z.ZodError) return { code: 'INVALID_REQUEST', message: describeZodError(error) };
  if (error instanceof StoreError) {
    const code: ApiErrorCode = error.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INVALID_REQUEST';
    return { code, message: error.message };
  }
  if (error instanceof EngineError) {
    const code: ApiErrorCode =
      error.code === 'BUSY' ? 'BUSY' : error.code === 'NO_MODEL_LOADED' ? 'NO_MODEL' : 'ENGINE';
    return { code, message: error.message };
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

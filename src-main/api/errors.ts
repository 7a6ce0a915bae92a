// One error shape crosses the transports. Each domain throws its own error (store, engine, session,
// models, documents, policy, validation); this is the one place they become codes the renderer
// reacts to, with the message shown as is.
import { z } from 'zod';
import { PolicySpecError } from '../../src-common/policy/policyError.js';
import { EngineError } from '../../src-engine/engineError.js';
import { DocumentError } from '../documents/errors.js';
import { ModelError, type ModelErrorCode } from '../models/modelError.js';
import { SessionError, type SessionErrorCode } from '../session/sessionError.js';
import { StoreError } from '../store/errors.js';
import type { ApiErrorCode, ApiErrorShape } from '../../src-common/contract.js';

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

const SESSION_CODES: Record<SessionErrorCode, ApiErrorCode> = {
  BAD_POLICY: 'INVALID_REQUEST',
  NOT_ALLOWED: 'INVALID_REQUEST',
  BUSY: 'BUSY',
};

const MODEL_CODES: Record<ModelErrorCode, ApiErrorCode> = {
  NOT_FOUND: 'NOT_FOUND',
  INVALID: 'INVALID_REQUEST',
  BUSY: 'BUSY',
  NO_MODEL: 'NO_MODEL',
  ENGINE_STOPPED: 'ENGINE',
  LOAD_SETTINGS: 'ENGINE',
  NO_FILE_PICKER: 'UNSUPPORTED',
};

export function toApiError(error: unknown): ApiErrorShape {
  if (error instanceof ApiError) return { code: error.code, message: error.message };
  if (error instanceof z.ZodError) return { code: 'INVALID_REQUEST', message: describeZodError(error) };
  if (error instanceof StoreError) {
    const code: ApiErrorCode = error.code === 'NOT_FOUND' ? 'NOT_FOUND' : 'INVALID_REQUEST';
    return { code, message: error.message };
  }
  if (error instanceof SessionError) return { code: SESSION_CODES[error.code], message: error.message };
  if (error instanceof ModelError) return { code: MODEL_CODES[error.code], message: error.message };
  if (error instanceof DocumentError) return { code: 'DOCUMENT', message: error.message };
  if (error instanceof PolicySpecError) return { code: 'INVALID_REQUEST', message: error.message };
  if (error instanceof EngineError) {
    const code: ApiErrorCode =
      error.code === 'BUSY' ? 'BUSY' : error.code === 'NO_MODEL_LOADED' ? 'NO_MODEL' : 'ENGINE';
    return { code, message: error.message };
  }
  return { code: 'INTERNAL', message: error instanceof Error ? error.message : String(error) };
}

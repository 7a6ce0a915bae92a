// The api contract's validation and error translation, without any transport.
import { describe, expect, it } from 'vitest';
import { createDispatcher, type ApiHandlers } from '../../src-main/api/dispatcher.js';
import { ApiError, toApiError } from '../../src-main/api/errors.js';
import { requestSchemas } from '../../src-common/schemas.js';
import { isAllowedHost, isAllowedOrigin } from '../../src-main/api/wsServer.js';
import { EngineError } from '../../src-engine/engineError.js';
import { StoreError } from '../../src-main/store/errors.js';
import { DocumentError } from '../../src-main/documents/errors.js';
import { ModelError } from '../../src-main/models/modelError.js';
import { SessionError } from '../../src-main/session/sessionError.js';
import { PolicySpecError } from '../../src-common/policy/policyError.js';

function handlersWith(overrides: Partial<ApiHandlers>): ApiHandlers {
  const unexpected = () => {
    throw new Error('not called in this test');
  };
  const all = Object.fromEntries(Object.keys(requestSchemas).map((channel) => [channel, unexpected]));
  return { ...all, ...overrides } as ApiHandlers;
}

describe('dispatcher', () => {
  const seen: unknown[] = [];
  const dispatch = createDispatcher(
    handlersWith({
      'sessions.rename': (input) => {
        seen.push(input);
        return { id: input.sessionId, title: input.title } as never;
      },
      'sessions.get': () => {
        throw new StoreError('NOT_FOUND', 'Session x does not exist.');
      },
      'chat.send': () => {
        throw new EngineError('BUSY', 'busy');
      },
    }),
  );

  it('passes a valid payload through, trimmed by its schema', async () => {
    expect(await dispatch('sessions.rename', { sessionId: 's1', title: '  Notes  ' })).toEqual({ ok: true, value: { id: 's1', title: 'Notes' } });
    expect(seen).toEqual([{ sessionId: 's1', title: 'Notes' }]);
  });

  it('rejects unknown channels, including prototype keys', async () => {
    expect(await dispatch('nope', {})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await dispatch('__proto__', {})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    expect(await dispatch(42, {})).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
  });

  it('rejects wrong types, missing and extra fields before any handler runs', async () => {
    const before = seen.length;
    for (const payload of [{ sessionId: 's1' }, { sessionId: 's1', title: 3 }, { sessionId: 's1', title: 'ok', extra: true }, { sessionId: 's1', title: '   ' }, null, 'x']) {
      const result = await dispatch('sessions.rename', payload);
      expect(result).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST' } });
    }
    expect(seen.length).toBe(before);
  });

  it('translates store and engine errors to stable codes', async () => {
    expect(await dispatch('sessions.get', { sessionId: 'x' })).toEqual({ ok: false, error: { code: 'NOT_FOUND', message: 'Session x does not exist.' } });
    expect(await dispatch('chat.send', { sessionId: 'x', text: 'hi' })).toMatchObject({ ok: false, error: { code: 'BUSY' } });
  });
});

describe('schemas', () => {
  it('bounds sampling settings', () => {
    const patch = requestSchemas['sessions.updateSettings'];
    expect(patch.safeParse({ sessionId: 's', settings: { temperature: 0.7, topP: 0.9, maxTokens: 256 } }).success).toBe(true);
    expect(patch.safeParse({ sessionId: 's', settings: { temperature: -1 } }).success).toBe(false);
    expect(patch.safeParse({ sessionId: 's', settings: { topP: 0 } }).success).toBe(false);
    expect(patch.safeParse({ sessionId: 's', settings: { maxTokens: 1.5 } }).success).toBe(false);
    expect(patch.safeParse({ sessionId: 's', settings: { model: 'x' } }).success).toBe(false);
  });
});

describe('error translation', () => {
  it('keeps api errors and hides nothing else', () => {
    expect(toApiError(new ApiError('NO_MODEL', 'Load a model.'))).toEqual({ code: 'NO_MODEL', message: 'Load a model.' });
    expect(toApiError(new EngineError('NO_MODEL_LOADED', 'none'))).toEqual({ code: 'NO_MODEL', message: 'none' });
    expect(toApiError(new EngineError('ENGINE_CRASHED', 'died'))).toEqual({ code: 'ENGINE', message: 'died' });
    expect(toApiError(new Error('boom'))).toEqual({ code: 'INTERNAL', message: 'boom' });
  });

  it("maps each domain's own error to the app's code, message unchanged", () => {
    expect(toApiError(new SessionError('BUSY', 'writing'))).toEqual({ code: 'BUSY', message: 'writing' });
    expect(toApiError(new SessionError('NOT_ALLOWED', 'no'))).toEqual({ code: 'INVALID_REQUEST', message: 'no' });
    expect(toApiError(new ModelError('NO_MODEL', 'load one'))).toEqual({ code: 'NO_MODEL', message: 'load one' });
    expect(toApiError(new ModelError('ENGINE_STOPPED', 'stopped'))).toEqual({ code: 'ENGINE', message: 'stopped' });
    expect(toApiError(new ModelError('NO_FILE_PICKER', 'type it'))).toEqual({ code: 'UNSUPPORTED', message: 'type it' });
    expect(toApiError(new ModelError('NOT_FOUND', 'gone'))).toEqual({ code: 'NOT_FOUND', message: 'gone' });
    expect(toApiError(new DocumentError('EMPTY_DOCUMENT', 'no text'))).toEqual({ code: 'DOCUMENT', message: 'no text' });
    expect(toApiError(new PolicySpecError('bad knob'))).toEqual({ code: 'INVALID_REQUEST', message: 'bad knob' });
  });
});

describe('serve host and origin checks', () => {
  it('accepts only this loopback server', () => {
    expect(isAllowedHost('127.0.0.1:4000', 4000)).toBe(true);
    expect(isAllowedHost('localhost:4000', 4000)).toBe(true);
    expect(isAllowedHost('evil.example:4000', 4000)).toBe(false);
    expect(isAllowedHost('127.0.0.1:4001', 4000)).toBe(false);
    expect(isAllowedHost(undefined, 4000)).toBe(false);
    expect(isAllowedOrigin('http://127.0.0.1:4000', 4000)).toBe(true);
    expect(isAllowedOrigin('http://evil.example', 4000)).toBe(false);
    expect(isAllowedOrigin('null', 4000)).toBe(false);
  });
});

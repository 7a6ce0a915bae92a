// Turns (channel, untrusted payload) into a validated handler call. Both transports go through
// here, so no payload reaches a handler without passing its schema.
import type { z } from 'zod';
import type { ApiChannel, ApiErrorShape, ApiOutput } from '../../src-common/contract.js';
import { ApiError, toApiError } from './errors.js';
import { requestSchemas, type RequestSchemas } from '../../src-common/schemas.js';

export type ApiHandlers = {
  [C in ApiChannel]: (input: z.output<RequestSchemas[C]>) => Promise<ApiOutput<C>> | ApiOutput<C>;
};

export type DispatchResult = { ok: true; value: unknown } | { ok: false; error: ApiErrorShape };

export type Dispatch = (channel: unknown, payload: unknown) => Promise<DispatchResult>;

function isChannel(channel: unknown): channel is ApiChannel {
  return typeof channel === 'string' && Object.hasOwn(requestSchemas, channel);
}

export function createDispatcher(handlers: ApiHandlers): Dispatch {
  return async (channel, payload) => {
    try {
      if (!isChannel(channel)) throw new ApiError('INVALID_REQUEST', `Unknown channel ${JSON.stringify(channel)}.`);
      const input = requestSchemas[channel].parse(payload ?? {});
      const handler = handlers[channel] as (input: unknown) => unknown;
      return { ok: true, value: await handler(input) };
    } catch (error) {
      return { ok: false, error: toApiError(error) };
    }
  };
}

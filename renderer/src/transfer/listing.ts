import { CHANNEL_BUFFER_LOW_BYTES, err, ok, type ListingMessage, type Result } from '@tether/protocol';
import { randomId } from '../base/random-id';
import { ConsoleFileChannel } from './file-channel';
import type { TransferError } from './file-transfer';

/** How long a listing may take: the agent runs a short command in the container. */
export const LISTING_TIMEOUT_MS = 15_000;

export interface ListRequest {
  sessionId: string;
  /** absolute, or relative to the shell's working directory; that directory when absent */
  path?: string | undefined;
  /** only entries whose name starts with this */
  prefix?: string | undefined;
}

/** Lists a directory of the session's container on its own `file:` channel, which the agent closes after answering. */
export function listDirectory(
  openChannel: (id: string) => RTCDataChannel,
  request: ListRequest,
): Promise<Result<ListingMessage, TransferError>> {
  return new Promise((resolve) => {
    let raw: RTCDataChannel;
    try {
      raw = openChannel(randomId(12));
    } catch (error) {
      resolve(err({ code: 'CHANNEL_CLOSED', message: error instanceof Error ? error.message : String(error) }));
      return;
    }
    const finish = (result: Result<ListingMessage, TransferError>) => {
      clearTimeout(timer);
      channel.dispose();
      resolve(result);
    };
    const channel = new ConsoleFileChannel(
      raw,
      {
        open: () =>
          channel.send({
            type: 'list',
            sessionId: request.sessionId,
            ...(request.path ? { path: request.path } : {}),
            ...(request.prefix ? { prefix: request.prefix } : {}),
          }),
        message: (message) => {
          if (message.type === 'listing') finish(ok(message));
          else if (message.type === 'error' && message.fatal) finish(err({ code: message.code, message: message.message }));
        },
        bytes: () => console.warn('[listing] bytes from the agent on a listing channel; dropped'),
        invalid: (error) => console.warn(`[listing] ${error.code} from the agent, dropped: ${error.message}`),
        closed: () => finish(err({ code: 'CHANNEL_CLOSED', message: 'the agent closed the channel without a listing' })),
        drained: () => undefined,
      },
      CHANNEL_BUFFER_LOW_BYTES,
    );
    const timer = setTimeout(
      () => finish(err({ code: 'TIMEOUT', message: `the agent did not list the directory within ${LISTING_TIMEOUT_MS / 1000} s` })),
      LISTING_TIMEOUT_MS,
    );
  });
}

/** DataChannelPort over werift's RTCDataChannel. */
import type { RTCDataChannel } from 'werift';
import { describeError } from './deadline.js';
import type { DataChannelPort, InboundFrame, Unsubscribe } from './data-channel.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

export function weriftChannel(channel: RTCDataChannel): DataChannelPort {
  const send = (frame: string | Buffer): boolean => {
    if (channel.readyState !== 'open') return false;
    try {
      channel.send(frame);
      return true;
    } catch (cause) {
      log.warn('send failed', { label: channel.label, error: describeError(cause) });
      return false;
    }
  };
  return {
    get label() {
      return channel.label;
    },
    get bufferedAmount() {
      return channel.bufferedAmount;
    },
    get isOpen() {
      return channel.readyState === 'open';
    },
    send,
    // Dropping answers while the console does not read is ChannelGuard's job, not this one's.
    answer: send,
    close() {
      channel.close();
    },
    onMessage(listener: (frame: InboundFrame) => void): Unsubscribe {
      const { unSubscribe } = channel.onMessage.subscribe((data: string | Buffer) => listener(data));
      return unSubscribe;
    },
    onClose(listener: () => void): Unsubscribe {
      if (channel.readyState === 'closed') {
        queueMicrotask(listener);
        return () => undefined;
      }
      const { unSubscribe } = channel.stateChanged.subscribe((state: string) => {
        if (state === 'closed') listener();
      });
      return unSubscribe;
    },
    onBufferedAmountLow(threshold: number, listener: () => void): Unsubscribe {
      channel.bufferedAmountLowThreshold = threshold;
      const { unSubscribe } = channel.bufferedAmountLow.subscribe(() => listener());
      return unSubscribe;
    },
  };
}

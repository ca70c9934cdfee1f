/**
 * DataChannelPort over werift's RTCDataChannel, with the channel's bounds (channel-bounds.ts)
 * applied where frames come in and answers go out.
 */
import type { RTCDataChannel } from 'werift';
import type { ChannelBounds } from './channel-bounds.js';
import { describeError } from './deadline.js';
import type { DataChannelPort, InboundFrame, Unsubscribe } from './data-channel.js';
import { createLogger } from './log.js';

const log = createLogger(import.meta.url);

/** `bounds`: none only for a channel that is refused at once (its frames are never read). */
export function weriftChannel(channel: RTCDataChannel, bounds?: ChannelBounds): DataChannelPort {
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
  const listeners = new Set<(frame: InboundFrame) => void>();
  const port: DataChannelPort = {
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
    answer(frame: string): boolean {
      if (bounds && !bounds.mayAnswer(channel.label, channel.bufferedAmount)) return false;
      return send(frame);
    },
    close() {
      channel.close();
    },
    onMessage(listener: (frame: InboundFrame) => void): Unsubscribe {
      listeners.add(listener);
      return () => listeners.delete(listener);
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
  // One subscription, so that each frame counts once against the rate whoever listens.
  const deliver = (frame: InboundFrame) => {
    for (const listener of listeners) listener(frame);
  };
  const { unSubscribe } = channel.onMessage.subscribe((data: string | Buffer) => {
    if (bounds) bounds.receive(port, data, deliver);
    else deliver(data);
  });
  port.onClose(() => {
    unSubscribe();
    listeners.clear();
  });
  return port;
}

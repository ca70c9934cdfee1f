import { SIGNALING_MESSAGE_BURST, SIGNALING_MESSAGES_PER_SECOND } from '@tether/protocol';

export { TokenBucket } from '@tether/protocol';

/** Messages per second a socket may send on average (the agent's LAN endpoint allows the same). */
export const MESSAGES_PER_SECOND = SIGNALING_MESSAGES_PER_SECOND;
/** Messages a socket may send in a burst above that rate. */
export const MESSAGE_BURST = SIGNALING_MESSAGE_BURST;

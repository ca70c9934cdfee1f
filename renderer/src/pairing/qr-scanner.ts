/**
 * Reads a QR code from the camera: `getUserMedia` video drawn onto a canvas every 200 ms and
 * decoded with jsQR (Chromium on Linux has no BarcodeDetector). The camera is stopped on the
 * first code, and on dispose.
 */
import jsQR from 'jsqr';
import { err, ok, protocolError, type Result } from '@tether/protocol';
import type { Disposable } from '../base/emitter';

/** How often a frame is decoded. */
export const QR_SCAN_INTERVAL_MS = 200;

export class QrScanner implements Disposable {
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly canvas = document.createElement('canvas');

  private constructor(
    private readonly stream: MediaStream,
    readonly video: HTMLVideoElement,
  ) {}

  /** Starts the camera into `video`; `onCode` gets the first decoded text, after the camera stopped. */
  static async start(video: HTMLVideoElement, onCode: (text: string) => void): Promise<Result<QrScanner>> {
    if (!navigator.mediaDevices?.getUserMedia) {
      return err(
        protocolError('INTERNAL', 'no camera API here (the console must run in a secure context: localhost, https or the desktop app)'),
      );
    }
    let stream: MediaStream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false });
    } catch (error) {
      const name = error instanceof DOMException ? error.name : '';
      const why =
        name === 'NotAllowedError' ? 'camera permission was denied' : name === 'NotFoundError' ? 'no camera was found' : String(error);
      return err(protocolError('INTERNAL', `cannot use the camera: ${why}; paste the token instead`));
    }
    const scanner = new QrScanner(stream, video);
    video.srcObject = stream;
    video.muted = true;
    video.playsInline = true;
    try {
      await video.play();
    } catch (error) {
      scanner.dispose();
      return err(protocolError('INTERNAL', `the camera video does not play: ${String(error)}`));
    }
    scanner.timer = setInterval(() => {
      const text = scanner.decodeFrame();
      if (text === undefined) return;
      scanner.dispose();
      onCode(text);
    }, QR_SCAN_INTERVAL_MS);
    return ok(scanner);
  }

  dispose(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const track of this.stream.getTracks()) track.stop();
    this.video.srcObject = null;
  }

  private decodeFrame(): string | undefined {
    const { videoWidth: width, videoHeight: height } = this.video;
    if (!width || !height) return undefined;
    this.canvas.width = width;
    this.canvas.height = height;
    const context = this.canvas.getContext('2d', { willReadFrequently: true });
    if (!context) return undefined;
    context.drawImage(this.video, 0, 0, width, height);
    const code = jsQR(context.getImageData(0, 0, width, height).data, width, height, { inversionAttempts: 'dontInvert' });
    return code?.data || undefined;
  }
}

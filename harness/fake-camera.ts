/**
 * A video file for Chromium's fake camera (`--use-file-for-fake-video-capture`) that shows a QR
 * code, written directly as Y4M (YUV 4:2:0), so the tests need no ffmpeg. The code is drawn black
 * on white, centred in a 640×480 frame with a quiet zone, in every frame.
 */
import { writeFileSync } from 'node:fs';
import QRCode from 'qrcode';

export const FRAME_WIDTH = 640;
export const FRAME_HEIGHT = 480;

/** The luma plane of one frame (0 = black, 255 = white) showing `text` as a QR code. */
export function qrLumaFrame(text: string): Uint8Array {
  const qr = QRCode.create(text, { errorCorrectionLevel: 'M' });
  const modules = qr.modules.size;
  const quiet = 4;
  const scale = Math.floor(Math.min(FRAME_WIDTH, FRAME_HEIGHT) / (modules + 2 * quiet));
  if (scale < 2) throw new Error(`a ${modules}-module QR code does not fit a ${FRAME_WIDTH}×${FRAME_HEIGHT} frame`);
  const side = modules * scale;
  const left = Math.floor((FRAME_WIDTH - side) / 2);
  const top = Math.floor((FRAME_HEIGHT - side) / 2);
  const luma = new Uint8Array(FRAME_WIDTH * FRAME_HEIGHT).fill(255);
  for (let row = 0; row < modules; row++) {
    for (let col = 0; col < modules; col++) {
      if (!qr.modules.get(row, col)) continue;
      for (let y = 0; y < scale; y++) {
        luma.fill(
          0,
          (top + row * scale + y) * FRAME_WIDTH + left + col * scale,
          (top + row * scale + y) * FRAME_WIDTH + left + (col + 1) * scale,
        );
      }
    }
  }
  return luma;
}

/** Writes `frames` frames (10 per second) of the QR code of `text` to `path` as Y4M. */
export function writeQrVideo(path: string, text: string, frames = 10): void {
  const luma = qrLumaFrame(text);
  const chroma = new Uint8Array((FRAME_WIDTH / 2) * (FRAME_HEIGHT / 2) * 2).fill(128);
  const header = Buffer.from(`YUV4MPEG2 W${FRAME_WIDTH} H${FRAME_HEIGHT} F10:1 Ip A1:1 C420jpeg\n`);
  const frame = Buffer.concat([Buffer.from('FRAME\n'), luma, chroma]);
  writeFileSync(path, Buffer.concat([header, ...Array.from({ length: frames }, () => frame)]));
}

/** Chromium flags that make `getUserMedia` return the video at `path`, without a prompt. */
export function fakeCameraArgs(path: string): string[] {
  return ['--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream', `--use-file-for-fake-video-capture=${path}`];
}

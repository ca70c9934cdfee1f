/** The fake camera's QR video decodes back to its text, so a failed scan in a test is the console's. */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import jsQRModule from 'jsqr';
import { FRAME_HEIGHT, FRAME_WIDTH, qrLumaFrame, writeQrVideo } from '../../harness/fake-camera.js';

// jsqr is CommonJS with an `exports.default`: under Node's ESM the function is the module itself.
const jsQR = jsQRModule.default;

const token = `tether1:${'eyJ2IjoxLCJpIjoiYWJjIn0'.repeat(10)}`;

function rgba(luma: Uint8Array): Uint8ClampedArray {
  const out = new Uint8ClampedArray(luma.length * 4);
  luma.forEach((y, i) => out.set([y, y, y, 255], i * 4));
  return out;
}

test('a frame of the fake camera decodes to the token', () => {
  const decoded = jsQR(rgba(qrLumaFrame(token)), FRAME_WIDTH, FRAME_HEIGHT);
  assert.equal(decoded?.data, token);
});

test('the Y4M file has the header and whole frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tether-camera-'));
  try {
    const path = join(dir, 'qr.y4m');
    writeQrVideo(path, token, 3);
    const file = readFileSync(path);
    const header = `YUV4MPEG2 W${FRAME_WIDTH} H${FRAME_HEIGHT} F10:1 Ip A1:1 C420jpeg\n`;
    assert.equal(file.subarray(0, header.length).toString(), header);
    const frameBytes = 'FRAME\n'.length + FRAME_WIDTH * FRAME_HEIGHT * 1.5;
    assert.equal(file.length, header.length + 3 * frameBytes);
    const firstLuma = file.subarray(header.length + 6, header.length + 6 + FRAME_WIDTH * FRAME_HEIGHT);
    assert.equal(jsQR(rgba(firstLuma), FRAME_WIDTH, FRAME_HEIGHT)?.data, token);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

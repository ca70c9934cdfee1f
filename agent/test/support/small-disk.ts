/**
 * A small real file system that a test fills and frees: a tmpfs of `size` (root only: `mount`),
 * filled to the last byte by a filler file, as a full disk is on a host. `close` unmounts it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export class SmallDisk {
  private constructor(readonly dir: string) {}

  static mount(size = '1m'): SmallDisk {
    const dir = mkdtempSync(join(tmpdir(), 'tether-small-disk-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir]);
    return new SmallDisk(dir);
  }

  /** Bytes still free. */
  get free(): number {
    const stats = statfsSync(this.dir);
    return stats.bavail * stats.bsize;
  }

  /**
   * Fills the file system, leaving about `leave` bytes free (0: nothing at all, not even the rest
   * of a page), with `filler`; adds to it when called again.
   */
  fill(leave = 0, filler = 'filler'): void {
    const fd = openSync(join(this.dir, filler), 'a');
    try {
      const chunk = Buffer.alloc(4096, 0x78);
      while (this.free > leave + chunk.length) writeSync(fd, chunk);
      if (leave > 0) return;
      for (const size of [4096, 512, 64, 1]) {
        try {
          for (;;) writeSync(fd, chunk, 0, size);
        } catch (cause) {
          if ((cause as NodeJS.ErrnoException).code !== 'ENOSPC') throw cause;
        }
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Removes the filler: the space comes back. */
  release(filler = 'filler'): void {
    rmSync(join(this.dir, filler), { force: true });
  }

  close(): void {
    try {
      execFileSync('umount', ['-l', this.dir]);
    } finally {
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

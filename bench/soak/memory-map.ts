/**
 * Where a process's resident memory lies, from /proc/<pid>/smaps: glibc malloc's main heap
 * (`[heap]`, grown with brk), its other arenas (each thread that mallocs may get one: mappings of
 * up to 64 MiB, aligned to 64 MiB, the unused rest reserved with no access), other anonymous
 * memory (V8's heap pages, thread stacks, large mmap'd allocations), and file-backed mappings
 * (node's own code and libraries). The soak records it so that RSS above the baseline can be
 * pinned on one of them rather than guessed.
 */
import { readFileSync } from 'node:fs';

export interface MemoryMap {
  /** glibc's main arena */
  heapBytes: number;
  /** glibc's other arenas, and how many there are */
  arenaBytes: number;
  arenas: number;
  /** anonymous memory outside glibc's arenas: V8's pages, stacks, mmap'd blocks */
  otherAnonBytes: number;
  fileBytes: number;
  /** the sum, as smaps_rollup would give it */
  rssBytes: number;
}

/** glibc's HEAP_MAX_SIZE on 64-bit: 2 × DEFAULT_MMAP_THRESHOLD_MAX (4 MiB × sizeof(long)) */
const ARENA_HEAP = 64 * 1024 * 1024;

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  name: string;
  rss: number;
}

export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      mappings.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, name: head[4] ?? '', rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && mappings.length > 0) mappings.at(-1)!.rss = Number(rss[1]) * 1024;
  }
  return mappings;
}

/**
 * A glibc arena heap: an anonymous read-write mapping that starts on a 64 MiB boundary and,
 * together with the no-access reservation right after it (if any), spans exactly 64 MiB.
 */
function isArenaHeap(m: Mapping, next: Mapping | undefined): boolean {
  if (m.name !== '' || !m.perms.startsWith('rw') || m.start % BigInt(ARENA_HEAP) !== 0n) return false;
  const end = next && next.name === '' && next.perms.startsWith('---') && next.start === m.end ? next.end : m.end;
  return end - m.start === BigInt(ARENA_HEAP);
}

export function classify(mappings: Mapping[]): MemoryMap {
  const map: MemoryMap = { heapBytes: 0, arenaBytes: 0, arenas: 0, otherAnonBytes: 0, fileBytes: 0, rssBytes: 0 };
  mappings.forEach((m, i) => {
    map.rssBytes += m.rss;
    if (m.name === '[heap]') map.heapBytes += m.rss;
    else if (isArenaHeap(m, mappings[i + 1])) {
      map.arenaBytes += m.rss;
      map.arenas += 1;
    } else if (m.name === '' || m.name.startsWith('[')) map.otherAnonBytes += m.rss;
    else map.fileBytes += m.rss;
  });
  return map;
}

export function memoryMap(pid: number): MemoryMap {
  return classify(parseSmaps(readFileSync(`/proc/${pid}/smaps`, 'utf8')));
}

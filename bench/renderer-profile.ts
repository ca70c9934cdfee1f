/**
 * Where the console page's JavaScript time goes during a throughput run: a CPU profile of the page
 * (Chrome DevTools Protocol), each sample's function mapped through the renderer bundle's source
 * map to its source file, and the self time summed per owner: Tether's own code (renderer/src,
 * protocol/src), the page's bench and test hooks, xterm.js, other libraries, and V8's own (GC,
 * program, idle).
 */
import { readFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CDPSession, Page } from 'playwright-core';
import { SourceMapConsumer, type RawSourceMap } from 'source-map-js';

export type Owner = 'tether' | 'harness' | 'xterm' | 'libraries' | 'gc' | 'program' | 'idle' | 'other';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const assets = fileURLToPath(new URL('../renderer/dist/assets/', import.meta.url));
const repoRoot = fileURLToPath(new URL('../', import.meta.url));

/** Who owns a source file of the bundle; `source` as the map names it (relative to the map). */
export function ownerOfSource(source: string): Owner {
  const path = relative(repoRoot, resolve(assets, source)).replaceAll('\\', '/');
  if (path.includes('node_modules/@xterm/')) return 'xterm';
  if (path.includes('node_modules/')) return 'libraries';
  // the page's test and bench hooks count and hash what arrives: the harness, not the product
  if (/^renderer\/src\/(.*\/)?(bench|test)-hooks\.ts$/.test(path)) return 'harness';
  if (/^(renderer|protocol)\/src\//.test(path)) return 'tether';
  return 'other';
}

export class RendererProfiler {
  private session: CDPSession | undefined;

  constructor(private readonly page: Page) {}

  async start(): Promise<void> {
    this.session = await this.page.context().newCDPSession(this.page);
    await this.session.send('Profiler.enable');
    await this.session.send('Profiler.setSamplingInterval', { interval: 250 });
    await this.session.send('Profiler.start');
  }

  /** Self time in ms per owner since start(). */
  async stop(): Promise<Record<Owner, number>> {
    const { profile } = (await this.session!.send('Profiler.stop')) as unknown as { profile: Profile };
    await this.session!.detach();
    const consumers = new Map<string, SourceMapConsumer | null>();
    const consumerFor = (url: string): SourceMapConsumer | null => {
      if (!consumers.has(url)) {
        const file = /\/assets\/([^/?#]+\.js)/.exec(url)?.[1];
        let consumer: SourceMapConsumer | null = null;
        try {
          if (file) consumer = new SourceMapConsumer(JSON.parse(readFileSync(`${assets}${file}.map`, 'utf8')) as RawSourceMap);
        } catch {
          consumer = null; // no map: counted as other
        }
        consumers.set(url, consumer);
      }
      return consumers.get(url)!;
    };
    const ownerOf = new Map<number, Owner>();
    for (const node of profile.nodes) {
      const { functionName, url, lineNumber, columnNumber } = node.callFrame;
      let owner: Owner = 'other';
      if (functionName === '(garbage collector)') owner = 'gc';
      else if (functionName === '(program)') owner = 'program';
      else if (functionName === '(idle)') owner = 'idle';
      else if (url) {
        const consumer = consumerFor(url);
        const source = consumer?.originalPositionFor({ line: lineNumber + 1, column: columnNumber }).source;
        owner = source ? ownerOfSource(source) : 'other';
      }
      ownerOf.set(node.id, owner);
    }
    const totals: Record<Owner, number> = { tether: 0, harness: 0, xterm: 0, libraries: 0, gc: 0, program: 0, idle: 0, other: 0 };
    profile.samples.forEach((id, i) => (totals[ownerOf.get(id) ?? 'other'] += (profile.timeDeltas[i] ?? 0) / 1000));
    return totals;
  }
}

/**
 * What a tab shows about its connection, beside the terminal: the stages while it connects (with a
 * progress bar), a banner with what failed and what to try (and Reconnect), the exit code, the
 * container's state, and a status line with the network path and round-trip time.
 */
import type { NetworkPath } from '../connection/network-path';

export type TabStage = 'signaling' | 'ice' | 'secure-channel' | 'shell' | 'ready';

const STAGES: readonly [TabStage, string][] = [
  ['signaling', 'Signaling: sending the offer to the agent'],
  ['ice', 'ICE: finding a network path'],
  ['secure-channel', 'Secure channel: DTLS and SCTP'],
  ['shell', 'Shell: starting a terminal in the container'],
];

export interface BannerContent {
  kind: 'error' | 'exit' | 'info';
  title: string;
  detail: string;
  /** the button's text, e.g. "Reconnect" or "Open a new session"; no button when absent */
  action?: string;
}

export class TabStatusView {
  readonly progress: HTMLElement;
  readonly banner: HTMLElement;
  readonly statusLine: HTMLElement;
  private readonly stageList: HTMLOListElement;
  private readonly bar: HTMLElement;
  private readonly bannerTitle: HTMLElement;
  private readonly bannerDetail: HTMLElement;
  private readonly bannerMore: HTMLButtonElement;
  private readonly bannerAction: HTMLButtonElement;

  constructor(onAction: () => void) {
    this.progress = document.createElement('div');
    this.progress.className = 'tab-progress';
    this.progress.dataset.testid = 'tab-connecting';
    const heading = document.createElement('h3');
    heading.textContent = 'Connecting…';
    this.bar = document.createElement('div');
    this.bar.className = 'progress-bar';
    this.bar.setAttribute('role', 'progressbar');
    this.bar.append(document.createElement('span'));
    this.stageList = document.createElement('ol');
    for (const [stage, text] of STAGES) {
      const item = document.createElement('li');
      item.dataset.stage = stage;
      item.textContent = text;
      this.stageList.append(item);
    }
    this.progress.append(heading, this.bar, this.stageList);

    this.banner = document.createElement('div');
    this.banner.className = 'tab-banner';
    this.banner.dataset.testid = 'tab-banner';
    this.banner.hidden = true;
    // One short line over the terminal (it never moves the layout); the rest on demand.
    this.bannerTitle = document.createElement('strong');
    this.bannerTitle.dataset.testid = 'tab-banner-title';
    this.bannerDetail = document.createElement('span');
    this.bannerDetail.className = 'tab-banner-detail';
    this.bannerDetail.dataset.testid = 'tab-banner-detail';
    this.bannerDetail.hidden = true;
    this.bannerMore = document.createElement('button');
    this.bannerMore.type = 'button';
    this.bannerMore.className = 'tab-banner-more';
    this.bannerMore.dataset.testid = 'tab-banner-details';
    this.bannerMore.setAttribute('aria-expanded', 'false');
    this.bannerMore.addEventListener('click', () => this.toggleDetail());
    this.bannerAction = document.createElement('button');
    this.bannerAction.type = 'button';
    this.bannerAction.dataset.testid = 'tab-reconnect';
    this.bannerAction.addEventListener('click', onAction);
    this.banner.append(this.bannerTitle, this.bannerMore, this.bannerAction, this.bannerDetail);

    this.toggleDetail(false);
    this.statusLine = document.createElement('footer');
    this.statusLine.className = 'tab-status';
    this.statusLine.dataset.testid = 'tab-status';
  }

  /** Shows the stage list up to `stage`; `ready` hides it. */
  showStage(stage: TabStage): void {
    this.progress.hidden = stage === 'ready';
    this.progress.dataset.stage = stage;
    const at = STAGES.findIndex(([s]) => s === stage);
    this.stageList.querySelectorAll('li').forEach((item, index) => {
      item.className = index < at ? 'done' : index === at ? 'current' : 'pending';
    });
    const fraction = stage === 'ready' ? 1 : (at + 0.5) / STAGES.length;
    this.bar.setAttribute('aria-valuenow', String(Math.round(fraction * 100)));
    (this.bar.firstElementChild as HTMLElement).style.width = `${Math.round(fraction * 100)}%`;
  }

  showBanner(content: BannerContent | undefined): void {
    this.banner.hidden = !content;
    if (!content) {
      this.toggleDetail(false);
      return;
    }
    this.banner.dataset.kind = content.kind;
    this.bannerTitle.textContent = content.title;
    this.bannerTitle.title = content.title;
    this.bannerDetail.textContent = content.detail;
    this.bannerMore.hidden = !content.detail;
    this.bannerAction.hidden = !content.action;
    this.bannerAction.textContent = content.action ?? '';
  }

  /** Shows or hides the banner's details (the button's toggle); they stay open while the banner shows. */
  private toggleDetail(open = this.bannerDetail.hidden): void {
    this.bannerDetail.hidden = !open;
    this.bannerMore.textContent = open ? 'Less' : 'Details';
    this.bannerMore.setAttribute('aria-expanded', String(open));
  }

  /**
   * The status line in plain words: where, the state, the network path once there is one (nothing
   * while there is none), and the terminal's current size; how it is drawn (WebGL or DOM) is a
   * detail on the size, not a word on the line.
   */
  showStatus(parts: {
    target: string;
    agentName: string;
    state: string;
    path: NetworkPath | undefined;
    size: { cols: number; rows: number };
    renderer: string;
  }): void {
    const path = parts.path;
    const pathText = path ? `${path.kind}${path.rttMs === undefined ? '' : ` · RTT ${path.rttMs.toFixed(1)} ms`}` : '';
    const items: [string, string][] = [
      ['tab-target', `${parts.target} on ${parts.agentName}`],
      ['tab-state', parts.state],
      ['tab-path', pathText],
    ];
    // Changed in place, only where the text changed: the line is updated with every round-trip
    // sample, and text selected on it (a container's name to copy) must stay selected.
    for (const [testid, text] of items) {
      const span = this.statusSpan(testid);
      if (span.textContent !== text) span.textContent = text;
    }
    const pathSpan = this.statusSpan('tab-path');
    pathSpan.dataset.path = path?.kind ?? '';
    pathSpan.hidden = !path;
    pathSpan.title = path ? `selected candidate pair: ${path.localType ?? '?'} → ${path.remoteType ?? '?'}` : '';
    // The size's text is showSize's alone (it follows every resize).
    this.statusSpan('tab-size').dataset.renderer = parts.renderer;
    this.showSize(parts.size);
  }

  /** The status line's part named `testid`, made the first time (the parts are made in their order). */
  private statusSpan(testid: string): HTMLElement {
    let span = this.statusLine.querySelector<HTMLElement>(`[data-testid="${testid}"]`);
    if (!span) {
      span = document.createElement('span');
      span.dataset.testid = testid;
      this.statusLine.append(span);
    }
    return span;
  }

  /** The terminal's size as it is now: called on every resize, not only when the tab's facts change. */
  showSize(size: { cols: number; rows: number }): void {
    const span = this.statusLine.querySelector<HTMLElement>('[data-testid="tab-size"]');
    if (!span) return;
    const text = `${size.cols}×${size.rows}`;
    if (span.textContent !== text) span.textContent = text;
    span.title = `${size.cols} columns × ${size.rows} rows · drawn with ${span.dataset.renderer === 'webgl' ? 'WebGL' : 'the DOM renderer (no WebGL)'}`;
  }
}

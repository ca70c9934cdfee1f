/** The console's settings in a JSON file in the user-data folder; every write is parsed by schema first. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_SETTINGS, KnownAgent, OpenTabs, Settings, Workspace, type SettingsPatch } from '../api.js';

interface StoredFile {
  settings: Settings;
  knownAgents: KnownAgent[];
  /** the tabs to reopen after a restart */
  openTabs: OpenTabs;
  workspaces: Workspace[];
}

const NO_TABS: OpenTabs = { tabs: [] };

export class SettingsStore {
  private data: StoredFile;

  constructor(
    private readonly file: string,
    private readonly log: (message: string) => void = (message) => console.warn(`[settings] ${message}`),
  ) {
    this.data = this.load();
  }

  get settings(): Settings {
    return { ...this.data.settings };
  }

  /** Applies a patch that was already parsed by `SettingsPatch`; returns the new settings. */
  update(patch: SettingsPatch): Settings {
    this.data = { ...this.data, settings: Settings.parse({ ...this.data.settings, ...patch }) };
    this.save();
    return this.settings;
  }

  get knownAgents(): KnownAgent[] {
    return this.data.knownAgents.map((a) => ({ ...a }));
  }

  saveKnownAgents(agents: KnownAgent[]): void {
    this.data = { ...this.data, knownAgents: agents.slice(0, 500) };
    this.save();
  }

  get openTabs(): OpenTabs {
    return structuredClone(this.data.openTabs);
  }

  saveOpenTabs(tabs: OpenTabs): void {
    this.data = { ...this.data, openTabs: tabs };
    this.save();
  }

  get workspaces(): Workspace[] {
    return structuredClone(this.data.workspaces);
  }

  saveWorkspaces(workspaces: Workspace[]): void {
    this.data = { ...this.data, workspaces: workspaces.slice(0, 100) };
    this.save();
  }

  private load(): StoredFile {
    let raw: string;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`cannot read ${this.file}: ${String(error)}; using defaults`);
      return { settings: { ...DEFAULT_SETTINGS }, knownAgents: [], openTabs: NO_TABS, workspaces: [] };
    }
    try {
      const value = JSON.parse(raw) as { settings?: unknown; knownAgents?: unknown; openTabs?: unknown; workspaces?: unknown };
      const settings = Settings.partial().safeParse(value.settings ?? {});
      const agents = KnownAgent.array().safeParse(value.knownAgents ?? []);
      // Tabs and workspaces that do not parse are dropped quietly beside a log line: nothing to restore is no error.
      const openTabs = OpenTabs.safeParse(value.openTabs ?? NO_TABS);
      const workspaces = Workspace.array().safeParse(value.workspaces ?? []);
      if (!openTabs.success || !workspaces.success) this.log(`the saved tabs or workspaces in ${this.file} are invalid; they were reset`);
      if (!settings.success || !agents.success) this.log(`parts of ${this.file} are invalid; they were reset`);
      return {
        settings: { ...DEFAULT_SETTINGS, ...(settings.success ? settings.data : {}) },
        knownAgents: agents.success ? agents.data : [],
        openTabs: openTabs.success ? openTabs.data : NO_TABS,
        workspaces: workspaces.success ? workspaces.data : [],
      };
    } catch (error) {
      this.log(`${this.file} is not JSON (${String(error)}); using defaults`);
      return { settings: { ...DEFAULT_SETTINGS }, knownAgents: [], openTabs: NO_TABS, workspaces: [] };
    }
  }

  private save(): void {
    mkdirSync(dirname(this.file), { recursive: true });
    // Write then rename, so that a crash never leaves half a file.
    const temp = `${this.file}.tmp`;
    writeFileSync(temp, `${JSON.stringify(this.data, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.file);
  }
}

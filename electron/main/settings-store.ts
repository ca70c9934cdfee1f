/** The console's settings in a JSON file in the user-data folder; every write is parsed by schema first. */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DEFAULT_SETTINGS, KnownAgent, Settings, type SettingsPatch } from '../api.js';

interface StoredFile {
  settings: Settings;
  knownAgents: KnownAgent[];
}

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

  private load(): StoredFile {
    let raw: string;
    try {
      raw = readFileSync(this.file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') this.log(`cannot read ${this.file}: ${String(error)}; using defaults`);
      return { settings: { ...DEFAULT_SETTINGS }, knownAgents: [] };
    }
    try {
      const value = JSON.parse(raw) as { settings?: unknown; knownAgents?: unknown };
      const settings = Settings.partial().safeParse(value.settings ?? {});
      const agents = KnownAgent.array().safeParse(value.knownAgents ?? []);
      if (!settings.success || !agents.success) this.log(`parts of ${this.file} are invalid; they were reset`);
      return {
        settings: { ...DEFAULT_SETTINGS, ...(settings.success ? settings.data : {}) },
        knownAgents: agents.success ? agents.data : [],
      };
    } catch (error) {
      this.log(`${this.file} is not JSON (${String(error)}); using defaults`);
      return { settings: { ...DEFAULT_SETTINGS }, knownAgents: [] };
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

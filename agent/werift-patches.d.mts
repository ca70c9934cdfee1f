// Types for tests that check the installed werift (werift-patches.mjs).
export declare const PATCH_DIR: string;
export declare const WERIFT_DIR: string;
export interface WeriftPatch {
  file: string;
  title: string;
  sha256: string;
}
export declare function weriftPatchSeries(weriftDir?: string, patchDir?: string): WeriftPatch[];
export declare function assertWeriftPatched(weriftDir?: string, patchDir?: string): WeriftPatch[];

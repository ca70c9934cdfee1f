// Types for tests that import the build script.
export declare const WERIFT_PATCHES: { why: string; find: string; replace: string }[];
export declare function patchWerift(source: string): string;
export declare function build(): Promise<void>;
export declare function buildIfStale(): Promise<void>;
export declare function buildWeriftOnly(outfile: string): Promise<void>;

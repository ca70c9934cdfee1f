// Types for tests that import the build script.
export declare function build(): Promise<void>;
export declare function buildIfStale(): Promise<void>;

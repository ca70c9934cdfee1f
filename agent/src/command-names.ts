/** The agent's subcommands, known without loading them (commands.ts is loaded only for one). */
const COMMANDS: readonly string[] = ['pair', 'consoles', 'install-service', 'uninstall-service'];

export const isCommand = (argv: string[]) => COMMANDS.includes(argv[0] ?? '');

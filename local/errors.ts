/**
 * Why the local host refuses to start: a bad entry point, a binding it cannot serve, a port or
 * data folder another host holds, a malformed local.settings.json. The CLI prints these as one
 * line (they are the user's to fix, a stack trace would only bury the message); anything else is
 * a bug and keeps its stack.
 */
export class StartupError extends Error {
  override readonly name = 'StartupError';
}

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

export type Logger = (level: LogLevel, message: string) => void;

/** Host log lines on stderr/stdout with a time stamp; quieter levels are dropped. */
export function consoleLogger(min: LogLevel = 'info'): Logger {
  return (level, message) => {
    if (ORDER[level] < ORDER[min]) return;
    const line = `${new Date().toISOString()} ${level.toUpperCase().padEnd(5)} ${message}`;
    if (level === 'error' || level === 'warn') console.error(line);
    else console.log(line);
  };
}

import type { Logger } from 'pino';

/**
 * A child logger created on first use. Every event gets a logger with its saga fields, but most
 * handlers never log: building pino children eagerly cost a measurable share of throughput.
 */
export function lazyChild(parent: Logger, bindings: () => Record<string, unknown>): Logger {
  let child: Logger | undefined;
  const target = {} as Logger;
  return new Proxy(target, {
    get(_target, prop) {
      child ??= parent.child(bindings());
      const value: unknown = Reflect.get(child, prop, child);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(child) : value;
    },
  });
}

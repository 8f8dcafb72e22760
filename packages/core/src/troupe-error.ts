/**
 * What every Troupe error class shares: a `code` from the package's fixed union, whether trying
 * again can help (`retriable`, derived from the code), and the underlying `cause`. Each package has
 * one subclass with its own name and codes (`SchemaRegistryError`, `SdkError`, `TrackerError`,
 * `TestingError`), so users catch the package's class and switch on `code`.
 */
export abstract class TroupeError<Code extends string> extends Error {
  readonly code: Code;
  readonly retriable: boolean;

  protected constructor(code: Code, message: string, retriableCodes: ReadonlySet<Code>, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
    this.retriable = retriableCodes.has(code);
  }
}

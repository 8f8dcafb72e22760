import { describe, expect, it } from 'vitest';
import { checkJava, defaultJavaPath, parseJavaMajor } from './java.js';
import { TestingError } from './errors.js';

describe('parseJavaMajor', () => {
  it('reads modern version strings', () => {
    expect(parseJavaMajor('openjdk version "17.0.15" 2025-04-15\nOpenJDK Runtime Environment')).toBe(17);
    expect(parseJavaMajor('openjdk version "21" 2023-09-19')).toBe(21);
    expect(parseJavaMajor('java version "22-ea" 2024-03-19')).toBe(22);
  });

  it('reads the legacy 1.x scheme as its minor number', () => {
    expect(parseJavaMajor('java version "1.8.0_392"')).toBe(8);
  });

  it('returns undefined for output without a version', () => {
    expect(parseJavaMajor('bash: java: command not found')).toBeUndefined();
  });
});

describe('defaultJavaPath', () => {
  it('prefers JAVA_HOME', () => {
    expect(defaultJavaPath({ JAVA_HOME: '/opt/jdk' })).toBe('/opt/jdk/bin/java');
    expect(defaultJavaPath({})).toBe('java');
  });
});

describe('checkJava', () => {
  it('fails with JAVA_NOT_FOUND when the binary does not exist', async () => {
    const error = await checkJava('/nonexistent/troupe/java').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TestingError);
    expect((error as TestingError).code).toBe('JAVA_NOT_FOUND');
    expect((error as TestingError).message).toMatch(/KAFKA_BROKERS/);
  });
});

// Summarises a V8 CPU profile (from `npm run bench -- --profile DIR`, i.e. node --cpu-prof): self
// time by package (Troupe's own code, kafkajs, avsc, Node internals, ...) and the top functions.
// Run: npx tsx bench/profile-summary.ts DIR/file.cpuprofile [top=25]
import { readFileSync } from 'node:fs';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly hitCount?: number;
  readonly children?: readonly number[];
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
  readonly startTime: number;
  readonly endTime: number;
}

/** Which bucket a frame's time goes to: a Troupe package, another npm package, Node, or V8. */
export function bucketOf(url: string, name: string): string {
  const troupe = /packages\/([a-z-]+)\/(?:src|dist)\//.exec(url);
  if (troupe) return `@troupe/${troupe[1]}`;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url);
  if (pkg) return pkg[1] ?? url;
  if (url.includes('/bench/')) return 'bench';
  if (url.startsWith('node:')) return 'node';
  if (url === '') return name === '(garbage collector)' ? 'gc' : name === '(idle)' || name === '(program)' ? name : 'v8/native';
  return url;
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i] as number;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const idle = [...self.entries()].filter(([id]) => byId.get(id)?.callFrame.functionName === '(idle)').reduce((a, [, t]) => a + t, 0);
  const busy = total - idle;
  const buckets = new Map<string, number>();
  const fns = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id);
    if (n === undefined || n.callFrame.functionName === '(idle)') continue;
    const { functionName, url, lineNumber } = n.callFrame;
    const b = bucketOf(url, functionName);
    buckets.set(b, (buckets.get(b) ?? 0) + t);
    const key = `${functionName || '(anonymous)'}  ${url.replace(/^.*\/(packages|node_modules)\//, '$1/')}:${lineNumber + 1}`;
    fns.set(key, (fns.get(key) ?? 0) + t);
  }
  // Inclusive time of Troupe's own functions (their callees included, e.g. the Buffer work their
  // headers cause), counted once per call path even when a function recurses.
  const inclusive = new Map<string, number>();
  const subtree = (id: number, open: Set<string>): number => {
    const n = byId.get(id);
    if (n === undefined) return 0;
    let t = self.get(id) ?? 0;
    const { functionName, url, lineNumber } = n.callFrame;
    const key = bucketOf(url, functionName).startsWith('@troupe/')
      ? `${functionName || '(anonymous)'}  ${url.replace(/^.*\/packages\//, '')}:${lineNumber + 1}`
      : undefined;
    const counted = key !== undefined && !open.has(key);
    if (counted) open.add(key);
    for (const c of n.children ?? []) t += subtree(c, open);
    if (counted) {
      open.delete(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + t);
    }
    return t;
  };
  const root = p.nodes[0];
  if (root !== undefined) subtree(root.id, new Set());
  const pct = (t: number): string => `${((t / busy) * 100).toFixed(1).padStart(5)}%`;
  console.log(`${file}\n  wall ${(total / 1e6).toFixed(1)} s, busy (not idle) ${(busy / 1e6).toFixed(1)} s`);
  console.log('  self time by package:');
  for (const [b, t] of [...buckets].sort((a, c) => c[1] - a[1]).slice(0, 15)) console.log(`   ${pct(t)}  ${b}`);
  console.log(`  top ${top} functions (self):`);
  for (const [f, t] of [...fns].sort((a, c) => c[1] - a[1]).slice(0, top)) console.log(`   ${pct(t)}  ${f}`);
  console.log(`  top ${top} Troupe functions (inclusive):`);
  for (const [f, t] of [...inclusive].sort((a, c) => c[1] - a[1]).slice(0, top)) console.log(`   ${pct(t)}  ${f}`);
}

const [file, top] = process.argv.slice(2);
if (file === undefined) {
  console.error('usage: npx tsx bench/profile-summary.ts FILE.cpuprofile [top]');
  process.exit(2);
}
summarise(file, Number(top ?? 25));

// @ts-check
// The tracker's web page: plain DOM, no build step. Type-checked against the API's own types
// (src/http/api-types.ts) by `npm run check` through ui/tsconfig.json, and linted with the rest.
// Everything is read from the JSON API; text is always set through textContent, never parsed as
// HTML (saga ids and reasons come from producers).
/**
 * @import { FlowResponse, SagaDetailResponse, SagaListResponse, StatsResponse, TypesResponse } from '../src/http/api-types.js'
 * @import { CausalNode, SagaStatus } from '../src/projection/index.js'
 */

/**
 * The element a selector names; the page's skeleton is static, so a missing one is a bug.
 * @param {string} sel
 * @returns {HTMLElement}
 */
function $(sel) {
  const e = document.querySelector(sel);
  if (!(e instanceof HTMLElement)) throw new Error(`page element ${sel} is missing`);
  return e;
}
/** @param {string | undefined} type */
const short = (type) =>
  (type ?? '').startsWith('dead-letter:') ? `DLQ ${(type ?? '').slice(12)}` : (type ?? '').slice((type ?? '').lastIndexOf('.') + 1);
/** @param {string | undefined} iso */
const time = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace('Z', '') : '');
/** @param {number | undefined} n */
const ms = (n) => (n === undefined ? '' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

/**
 * @param {string} tag
 * @param {Record<string, string | ((e: Event) => void)>} [props] `text`, `class`, `on<event>` or an attribute
 * @param {(Node | string)[]} [children]
 * @returns {HTMLElement}
 */
function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
/** @param {Readonly<Record<string, string>>} attributes */
const attributeText = (attributes) =>
  Object.entries(attributes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
/** @param {string} status */
const badge = (status) => el('span', { class: `badge s-${status}`, text: status });

/**
 * GETs a JSON route; the caller states which response type the route answers with.
 * @param {string} path
 * @returns {Promise<unknown>}
 */
async function api(path) {
  const res = await fetch(path);
  /** @type {unknown} */
  const body = await res.json();
  if (!res.ok) {
    const message = typeof body === 'object' && body !== null && 'message' in body ? String(body.message) : `HTTP ${res.status}`;
    throw new Error(message);
  }
  return body;
}

// ---- list ---------------------------------------------------------------------------------
/** @type {string | undefined} */
let cursor;

function filterQuery() {
  const f = new FormData(/** @type {HTMLFormElement} */ ($('#filters')));
  /** @param {string} name */
  const value = (name) => {
    const v = f.get(name);
    return typeof v === 'string' ? v : '';
  };
  const q = new URLSearchParams();
  for (const name of ['type', 'status', 'prefix', 'participant', 'eventType', 'reason']) if (value(name)) q.set(name, value(name));
  // `name=value[, name=value]`: business attributes declared in the contracts.
  for (const pair of value('attr').split(',')) {
    const at = pair.indexOf('=');
    if (at > 0) q.set(`attr.${pair.slice(0, at).trim()}`, pair.slice(at + 1).trim());
  }
  if (value('stuck')) q.set('stuck', 'true');
  if (value('nonconforming')) q.set('conforming', 'false');
  for (const name of ['from', 'to']) if (value(name)) q.set(name, new Date(value(name)).toISOString());
  return q;
}

async function loadList(append = false) {
  const q = filterQuery();
  q.set('limit', '50');
  if (append && cursor) q.set('cursor', cursor);
  const err = $('#list-error');
  try {
    const page = /** @type {SagaListResponse} */ (await api(`/api/sagas?${q}`));
    err.hidden = true;
    const body = $('#sagas tbody');
    if (!append) body.replaceChildren();
    for (const s of page.items) {
      const open = () => (location.hash = `#/saga/${encodeURIComponent(s.sagaId)}`);
      body.append(
        el('tr', { class: 'row', 'data-saga': s.sagaId, onclick: open }, [
          el('td', {}, [el('code', { text: s.sagaId })]),
          el('td', { class: 'attributes', text: attributeText(s.attributes) }),
          el('td', { text: s.sagaType }),
          el('td', {}, [badge(s.status)]),
          el('td', { text: time(s.startedAt) }),
          el('td', { text: String(s.eventCount) }),
          el('td', { text: s.currentStep ?? '' }),
          el('td', { class: 'stuck-reason', text: s.stuck.stuck ? (s.stuck.reason ?? '') : '' }),
          el('td', { class: 'deviation', text: s.deviationKinds.join(', ') }),
        ]),
      );
    }
    cursor = page.nextCursor;
    $('#more').hidden = !cursor;
  } catch (e) {
    err.textContent = e instanceof Error ? e.message : String(e);
    err.hidden = false;
  }
}

async function loadCounts() {
  const { types } = /** @type {StatsResponse} */ (await api('/api/stats'));
  /** @type {Record<SagaStatus, number>} */
  const totals = { running: 0, completed: 0, compensating: 0, compensated: 0, failed: 0 };
  let stuck = 0;
  let nonConforming = 0;
  for (const t of types) {
    nonConforming += t.nonConforming;
    for (const k of /** @type {SagaStatus[]} */ (Object.keys(totals))) totals[k] += t.byStatus[k];
    stuck += t.stuck;
  }
  $('#counts').replaceChildren(
    ...Object.entries(totals).map(([k, v]) => el('span', { 'data-count': k }, [badge(k), ` ${v}`])),
    el('span', { 'data-count': 'stuck', text: `stuck ${stuck}` }),
    el('span', { 'data-count': 'nonconforming', text: `deviating ${nonConforming}` }),
  );
}

async function loadStuck() {
  const page = /** @type {SagaListResponse} */ (await api('/api/sagas?stuck=true&limit=20'));
  $('#stuck-list').replaceChildren(
    ...page.items.map((s) =>
      el('li', {}, [el('a', { href: `#/saga/${encodeURIComponent(s.sagaId)}`, text: s.sagaId }), `: ${s.stuck.reason ?? ''}`]),
    ),
  );
  if (page.items.length === 0) $('#stuck-list').append(el('li', { text: 'none' }));
}

async function loadTypes() {
  const { types } = /** @type {TypesResponse} */ (await api('/api/types'));
  const select = $('#filters select[name=type]');
  const flow = $('#flow-type');
  for (const t of types) {
    select.append(el('option', { value: t.name, text: t.name }));
    flow.append(el('option', { value: t.name, text: t.name }));
  }
  const first = types[0];
  if (first !== undefined) await loadFlow(first.name);
}

// ---- flow graph: event types in columns by causal depth, edges labelled with counts ---------
/** @param {string} type */
async function loadFlow(type) {
  const flow = /** @type {FlowResponse} */ (await api(`/api/types/${encodeURIComponent(type)}/flow`));
  /** @type {Map<string, number>} */
  const depth = new Map();
  const targets = new Set(flow.edges.map((e) => e.to));
  for (const e of flow.edges) if (!targets.has(e.from)) depth.set(e.from, 0);
  for (let i = 0; i < flow.edges.length; i++) {
    for (const e of flow.edges) {
      const d = depth.get(e.from);
      if (d !== undefined && !depth.has(e.to)) depth.set(e.to, d + 1);
    }
  }
  for (const e of flow.edges) for (const n of [e.from, e.to]) if (!depth.has(n)) depth.set(n, 0);
  /** @type {string[][]} */
  const columns = [];
  for (const [n, d] of [...depth.entries()].sort()) (columns[d] ??= []).push(n);
  /** @type {Map<string, { x: number, y: number }>} */
  const pos = new Map();
  const W = 190;
  const H = 54;
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(n, { x: 20 + x * W, y: 20 + y * H })));
  const width = 40 + columns.length * W;
  const height = 40 + Math.max(1, ...columns.map((c) => c.length)) * H;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', String(width));
  svg.setAttribute('height', String(height));
  /**
   * @param {string} tag
   * @param {Record<string, string | number>} attrs
   * @param {string} [text]
   */
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  for (const e of flow.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (a === undefined || b === undefined) continue;
    add('line', { x1: a.x + 150, y1: a.y + 14, x2: b.x, y2: b.y + 14, stroke: '#90a4ae' });
    add('text', { x: (a.x + 150 + b.x) / 2, y: (a.y + b.y) / 2 + 10, 'font-size': 10, fill: '#37474f' }, `${e.count}× p50 ${ms(e.p50)}`);
  }
  for (const [n, p] of pos) {
    const fill = n.startsWith('dead-letter:') ? '#ffcdd2' : '#e3f2fd';
    add('rect', { x: p.x, y: p.y, width: 150, height: 28, rx: 5, fill, stroke: '#546e7a' });
    add('text', { x: p.x + 6, y: p.y + 18, 'font-size': 11 }, short(n));
  }
  const rows = flow.edges.map((e) =>
    el(
      'tr',
      {},
      [short(e.from), short(e.to), String(e.count), ms(e.p50), ms(e.p95), ms(e.p99)].map((v) => el('td', { text: v })),
    ),
  );
  const table = el('table', {}, [
    el('thead', {}, [
      el(
        'tr',
        {},
        ['From', 'To', 'Count', 'p50', 'p95', 'p99'].map((h) => el('th', { text: h })),
      ),
    ]),
    el('tbody', {}, rows),
  ]);
  $('#flow').replaceChildren(el('p', { text: `${flow.sagas} sagas of type ${type}` }), svg, table);
}

// ---- one saga ------------------------------------------------------------------------------
/** @param {string} id */
async function showSaga(id) {
  $('#saga-view').hidden = false;
  document.body.classList.add('with-saga');
  const s = /** @type {SagaDetailResponse} */ (await api(`/api/sagas/${encodeURIComponent(id)}`));
  $('#saga-title').replaceChildren(`${s.sagaType} `, el('code', { text: s.sagaId }), ' ', badge(s.status));
  $('#saga-summary').textContent =
    `started ${time(s.startedAt)}${s.endedAt ? `, ended ${time(s.endedAt)}` : ''}; ${s.eventCount} events` +
    (s.hasContract ? '' : ' (no contract: observed steps only)') +
    (Object.keys(s.attributes).length > 0 ? `; ${attributeText(s.attributes)}` : '');
  $('#saga-stuck').hidden = !s.stuck.stuck;
  $('#saga-stuck').textContent = s.stuck.stuck ? `Stuck: ${s.stuck.reason ?? ''}` : '';
  $('#steps tbody').replaceChildren(
    ...s.steps.map((st) =>
      el('tr', { 'data-step': st.name }, [
        el('td', { text: st.name }),
        el('td', { text: st.participant ?? '' }),
        el('td', {}, [badge(st.status)]),
        el('td', { text: time(st.completedAt) }),
        el('td', { text: time(st.failedAt) }),
        el('td', { text: time(st.compensatedAt ?? st.compensationFailedAt) }),
        el('td', { text: ms(st.latencyMs) }),
      ]),
    ),
  );
  const c = s.compensations;
  /** @param {readonly string[]} names */
  const names = (names) => names.join(', ') || 'none';
  $('#compensations').textContent =
    c.expected.length + c.failed.length === 0
      ? ''
      : `Compensations expected: ${names(c.expected)}; done: ${names(c.done)}; failed: ${names(c.failed)}`;
  $('#deviations').replaceChildren(
    ...s.deviations.map((d) =>
      el('li', { class: 'deviation', 'data-kind': d.kind }, [el('code', { text: time(d.time) }), ` ${d.kind}: ${d.message}`]),
    ),
  );
  if (s.deviations.length === 0) $('#deviations').append(el('li', { text: s.hasContract ? 'none' : 'no contract to compare with' }));
  $('#failures').replaceChildren(
    ...s.failures.map((f) =>
      el('li', {
        text: `${time(f.time)} ${f.kind} ${f.step ? `in ${f.step} ` : ''}by ${f.participant ?? 'unknown participant'}: ${f.reason ?? 'no reason given'}`,
      }),
    ),
  );
  if (s.failures.length === 0) $('#failures').append(el('li', { text: 'none' }));
  $('#timeline').replaceChildren(
    ...s.timeline.map((e) =>
      el('li', { class: e.deadLetter ? 'dlq' : '' }, [
        el('code', { text: time(e.time) }),
        ` ${short(e.type)} — ${e.role}${e.step ? ` (${e.step})` : ''} from ${e.source} on ${e.topic}[${e.partition}]@${e.offset}`,
        e.deadLetter ? ` — dead-lettered: ${e.deadLetter.reason ?? ''}` : '',
      ]),
    ),
  );
  /** @type {Map<string, CausalNode[]>} */
  const children = new Map();
  /** @type {CausalNode[]} */
  const roots = [];
  const nodes = new Map(s.causal.nodes.map((n) => [n.id, n]));
  for (const n of s.causal.nodes) {
    const edge = s.causal.edges.find((e) => e.to === n.id);
    if (edge && nodes.has(edge.from)) {
      const list = children.get(edge.from) ?? [];
      list.push(n);
      children.set(edge.from, list);
    } else roots.push(n);
  }
  /**
   * @param {CausalNode} n
   * @returns {HTMLElement}
   */
  const render = (n) =>
    el('li', {}, [
      `${short(n.type)} (${n.source})${n.deadLettered ? ' — dead-lettered' : ''}`,
      el('ul', {}, (children.get(n.id) ?? []).map(render)),
    ]);
  $('#causal').replaceChildren(...roots.map(render));
}

function showList() {
  $('#saga-view').hidden = true;
  document.body.classList.remove('with-saga');
}

async function route() {
  const m = /^#\/saga\/(.+)$/.exec(location.hash);
  if (m?.[1] !== undefined) await showSaga(decodeURIComponent(m[1]));
  else showList();
}

// ---- live updates: refresh counts and the visible list at most once a second ---------------
function live() {
  const es = new EventSource('/api/stream');
  let pending = false;
  es.addEventListener('open', () => $('#live').classList.remove('off'));
  es.addEventListener('error', () => $('#live').classList.add('off'));
  es.addEventListener('saga', () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      void loadCounts();
      void loadList();
      void loadStuck();
    }, 1000);
  });
}

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  void loadList();
});
$('#more').addEventListener('click', () => void loadList(true));
$('#flow-type').addEventListener('change', (e) => {
  if (e.target instanceof HTMLSelectElement) void loadFlow(e.target.value);
});
$('#back').addEventListener('click', (e) => {
  e.preventDefault();
  location.hash = '';
});
window.addEventListener('hashchange', () => void route());

await Promise.all([loadCounts(), loadList(), loadStuck(), loadTypes()]);
await route();
document.body.dataset['ready'] = 'true';
live();

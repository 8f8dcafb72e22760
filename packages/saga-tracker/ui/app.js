// The tracker's web page: plain DOM, no build step. Everything is read from the JSON API; text is
// always set through textContent, never parsed as HTML (saga ids and reasons come from producers).
const $ = (sel) => document.querySelector(sel);
const short = (type) =>
  (type ?? '').startsWith('dead-letter:') ? `DLQ ${type.slice(12)}` : (type ?? '').slice((type ?? '').lastIndexOf('.') + 1);
const time = (iso) => (iso ? new Date(iso).toISOString().replace('T', ' ').replace('Z', '') : '');
const ms = (n) => (n === undefined || n === null ? '' : n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

function el(tag, props = {}, children = []) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'text') e.textContent = v;
    else if (k === 'class') e.className = v;
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
const badge = (status) => el('span', { class: `badge s-${status}`, text: status });

async function api(path) {
  const res = await fetch(path);
  const body = await res.json();
  if (!res.ok) throw new Error(body.message ?? `HTTP ${res.status}`);
  return body;
}

// ---- list ---------------------------------------------------------------------------------
let cursor;

function filterQuery() {
  const f = new FormData($('#filters'));
  const q = new URLSearchParams();
  for (const name of ['type', 'status', 'prefix']) if (f.get(name)) q.set(name, f.get(name));
  if (f.get('stuck')) q.set('stuck', 'true');
  for (const name of ['from', 'to']) if (f.get(name)) q.set(name, new Date(f.get(name)).toISOString());
  return q;
}

async function loadList(append = false) {
  const q = filterQuery();
  q.set('limit', '50');
  if (append && cursor) q.set('cursor', cursor);
  const err = $('#list-error');
  try {
    const page = await api(`/api/sagas?${q}`);
    err.hidden = true;
    const body = $('#sagas tbody');
    if (!append) body.replaceChildren();
    for (const s of page.items) {
      body.append(
        el('tr', { class: 'row', 'data-saga': s.sagaId, onclick: () => (location.hash = `#/saga/${encodeURIComponent(s.sagaId)}`) }, [
          el('td', {}, [el('code', { text: s.sagaId })]),
          el('td', { text: s.sagaType }),
          el('td', {}, [badge(s.status)]),
          el('td', { text: time(s.startedAt) }),
          el('td', { text: String(s.eventCount) }),
          el('td', { text: s.currentStep ?? '' }),
          el('td', { class: 'stuck-reason', text: s.stuck.stuck ? s.stuck.reason : '' }),
        ]),
      );
    }
    cursor = page.nextCursor;
    $('#more').hidden = !cursor;
  } catch (e) {
    err.textContent = e.message;
    err.hidden = false;
  }
}

async function loadCounts() {
  const { types } = await api('/api/stats');
  const totals = { running: 0, completed: 0, compensating: 0, compensated: 0, failed: 0 };
  let stuck = 0;
  for (const t of types) {
    for (const k of Object.keys(totals)) totals[k] += t.byStatus[k];
    stuck += t.stuck;
  }
  $('#counts').replaceChildren(
    ...Object.entries(totals).map(([k, v]) => el('span', { 'data-count': k }, [badge(k), document.createTextNode(` ${v}`)])),
    el('span', { 'data-count': 'stuck', text: `stuck ${stuck}` }),
  );
}

async function loadStuck() {
  const page = await api('/api/sagas?stuck=true&limit=20');
  $('#stuck-list').replaceChildren(
    ...page.items.map((s) =>
      el('li', {}, [el('a', { href: `#/saga/${encodeURIComponent(s.sagaId)}`, text: s.sagaId }), document.createTextNode(`: ${s.stuck.reason}`)]),
    ),
  );
  if (page.items.length === 0) $('#stuck-list').append(el('li', { text: 'none' }));
}

async function loadTypes() {
  const { types } = await api('/api/types');
  const select = $('#filters select[name=type]');
  const flow = $('#flow-type');
  for (const t of types) {
    select.append(el('option', { value: t.name, text: t.name }));
    flow.append(el('option', { value: t.name, text: t.name }));
  }
  if (types.length > 0) await loadFlow(types[0].name);
}

// ---- flow graph: event types in columns by causal depth, edges labelled with counts ---------
async function loadFlow(type) {
  const flow = await api(`/api/types/${encodeURIComponent(type)}/flow`);
  const depth = new Map();
  const targets = new Set(flow.edges.map((e) => e.to));
  for (const e of flow.edges) if (!targets.has(e.from)) depth.set(e.from, 0);
  for (let i = 0; i < flow.edges.length; i++) {
    for (const e of flow.edges) if (depth.has(e.from) && !depth.has(e.to)) depth.set(e.to, depth.get(e.from) + 1);
  }
  for (const e of flow.edges) for (const n of [e.from, e.to]) if (!depth.has(n)) depth.set(n, 0);
  const columns = [];
  for (const [n, d] of [...depth.entries()].sort()) (columns[d] ??= []).push(n);
  const pos = new Map();
  const W = 190, H = 54;
  columns.forEach((col, x) => col.forEach((n, y) => pos.set(n, { x: 20 + x * W, y: 20 + y * H })));
  const width = 40 + columns.length * W, height = 40 + Math.max(1, ...columns.map((c) => c.length)) * H;
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('width', width);
  svg.setAttribute('height', height);
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  for (const e of flow.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    add('line', { x1: a.x + 150, y1: a.y + 14, x2: b.x, y2: b.y + 14, stroke: '#90a4ae' });
    add('text', { x: (a.x + 150 + b.x) / 2, y: (a.y + b.y) / 2 + 10, 'font-size': 10, fill: '#37474f' }, `${e.count}× p50 ${ms(e.p50)}`);
  }
  for (const [n, p] of pos) {
    add('rect', { x: p.x, y: p.y, width: 150, height: 28, rx: 5, fill: n.startsWith('dead-letter:') ? '#ffcdd2' : '#e3f2fd', stroke: '#546e7a' });
    add('text', { x: p.x + 6, y: p.y + 18, 'font-size': 11 }, short(n));
  }
  const table = el('table', {}, [
    el('thead', {}, [el('tr', {}, ['From', 'To', 'Count', 'p50', 'p95', 'p99'].map((h) => el('th', { text: h })))]),
    el('tbody', {}, flow.edges.map((e) => el('tr', {}, [short(e.from), short(e.to), e.count, ms(e.p50), ms(e.p95), ms(e.p99)].map((v) => el('td', { text: String(v) }))))),
  ]);
  $('#flow').replaceChildren(el('p', { text: `${flow.sagas} sagas of type ${type}` }), svg, table);
}

// ---- one saga ------------------------------------------------------------------------------
async function showSaga(id) {
  $('#saga-view').hidden = false;
  document.body.classList.add('with-saga');
  const s = await api(`/api/sagas/${encodeURIComponent(id)}`);
  $('#saga-title').replaceChildren(document.createTextNode(`${s.sagaType} `), el('code', { text: s.sagaId }), document.createTextNode(' '), badge(s.status));
  $('#saga-summary').textContent = `started ${time(s.startedAt)}${s.endedAt ? `, ended ${time(s.endedAt)}` : ''}; ${s.eventCount} events` +
    (s.hasContract ? '' : ' (no contract: observed steps only)');
  $('#saga-stuck').hidden = !s.stuck.stuck;
  $('#saga-stuck').textContent = s.stuck.stuck ? `Stuck: ${s.stuck.reason}` : '';
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
  $('#compensations').textContent = c.expected.length + c.failed.length === 0 ? '' :
    `Compensations expected: ${c.expected.join(', ') || 'none'}; done: ${c.done.join(', ') || 'none'}; failed: ${c.failed.join(', ') || 'none'}`;
  $('#failures').replaceChildren(
    ...s.failures.map((f) => el('li', { text: `${time(f.time)} ${f.kind} ${f.step ? `in ${f.step} ` : ''}by ${f.participant ?? 'unknown participant'}: ${f.reason ?? 'no reason given'}` })),
  );
  if (s.failures.length === 0) $('#failures').append(el('li', { text: 'none' }));
  $('#timeline').replaceChildren(
    ...s.timeline.map((e) =>
      el('li', { class: e.deadLetter ? 'dlq' : '' }, [
        el('code', { text: time(e.time) }),
        document.createTextNode(` ${short(e.type)} — ${e.role}${e.step ? ` (${e.step})` : ''} from ${e.source} on ${e.topic}[${e.partition}]@${e.offset}`),
        document.createTextNode(e.deadLetter ? ` — dead-lettered: ${e.deadLetter.reason ?? ''}` : ''),
      ]),
    ),
  );
  const children = new Map();
  const roots = [];
  const nodes = new Map(s.causal.nodes.map((n) => [n.id, n]));
  for (const n of s.causal.nodes) {
    const edge = s.causal.edges.find((e) => e.to === n.id);
    if (edge && nodes.has(edge.from)) (children.get(edge.from) ?? children.set(edge.from, []).get(edge.from)).push(n);
    else roots.push(n);
  }
  const render = (n) => el('li', {}, [
    document.createTextNode(`${short(n.type)} (${n.source})${n.deadLettered ? ' — dead-lettered' : ''}`),
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
  if (m) await showSaga(decodeURIComponent(m[1]));
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
$('#flow-type').addEventListener('change', (e) => void loadFlow(e.target.value));
$('#back').addEventListener('click', (e) => {
  e.preventDefault();
  location.hash = '';
});
window.addEventListener('hashchange', () => void route());

await Promise.all([loadCounts(), loadList(), loadStuck(), loadTypes()]);
await route();
document.body.dataset.ready = 'true';
live();

// @ts-check
// The tracker's web page: plain DOM, no build step. Type-checked against the API's own types
// (src/http/api-types.ts) by `npm run check` through ui/tsconfig.json, and linted with the rest.
// Everything is read from the JSON API; text is always set through textContent, never parsed as
// HTML (saga ids and reasons come from producers).
/**
 * @import { ActivityResponse, FlowResponse, SagaDetailResponse, SagaListResponse, StatsResponse, TypesResponse } from '../src/http/api-types.js'
 * @import { CausalNode, SagaAbort, SagaStatus } from '../src/projection/index.js'
 * @import { ListedSaga, StepCounts } from '../src/store/saga-store.js'
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

const SVG = 'http://www.w3.org/2000/svg';
/**
 * An SVG element with attributes (and text content).
 * @param {string} tag
 * @param {Record<string, string | number>} attrs
 * @param {string} [text]
 * @returns {SVGElement}
 */
function svgEl(tag, attrs, text) {
  const e = /** @type {SVGElement} */ (document.createElementNS(SVG, tag));
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}
/** @param {string} iso */
const hhmm = (iso) => new Date(iso).toISOString().slice(11, 16);

// ---- overview: sagas started and ended per minute, live ------------------------------------
async function loadActivity() {
  const a = /** @type {ActivityResponse} */ (await api('/api/activity?minutes=60'));
  // As wide as its panel (read once per refresh), so bars and labels keep their pixel sizes.
  const W = Math.max(480, $('#activity').clientWidth);
  const H = 170;
  const pad = { l: 34, r: 8, t: 10, b: 22 };
  const n = a.buckets.length;
  const bw = (W - pad.l - pad.r) / Math.max(1, n);
  const max = Math.max(1, ...a.buckets.map((b) => Math.max(b.started, b.completed + b.compensated + b.failed)));
  const y = (/** @type {number} */ v) => H - pad.b - (v / max) * (H - pad.t - pad.b);
  const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, width: W, height: H, class: 'chart' });
  svg.append(svgEl('line', { x1: pad.l, y1: y(0), x2: W - pad.r, y2: y(0), class: 'axis' }));
  svg.append(svgEl('text', { x: pad.l - 4, y: y(max) + 4, 'text-anchor': 'end', class: 'tick' }, String(max)));
  svg.append(svgEl('text', { x: pad.l - 4, y: y(0), 'text-anchor': 'end', class: 'tick' }, '0'));
  a.buckets.forEach((b, i) => {
    const x = pad.l + i * bw;
    let base = 0;
    for (const k of /** @type {const} */ (['completed', 'compensated', 'failed'])) {
      if (b[k] === 0) continue;
      svg.append(
        svgEl(
          'rect',
          { x: x + 1, y: y(base + b[k]), width: Math.max(1, bw - 2), height: y(base) - y(base + b[k]), class: `bar k-${k}` },
          '',
        ),
      );
      base += b[k];
    }
  });
  const points = a.buckets.map((b, i) => `${pad.l + i * bw + bw / 2},${y(b.started)}`).join(' ');
  svg.append(svgEl('polyline', { points, class: 'started-line' }));
  // Three time labels (first, middle, last bucket): far enough apart never to overlap.
  for (const i of [0, Math.floor(n / 2), n - 1]) {
    const b = a.buckets[i];
    if (b === undefined) continue;
    const anchor = i === 0 ? 'start' : i === n - 1 ? 'end' : 'middle';
    const x = i === 0 ? pad.l : i === n - 1 ? W - pad.r : pad.l + i * bw + bw / 2;
    svg.append(svgEl('text', { x, y: H - 6, 'text-anchor': anchor, class: 'tick' }, hhmm(b.at)));
  }
  const totals = a.buckets.reduce(
    (t, b) => ({
      started: t.started + b.started,
      completed: t.completed + b.completed,
      compensated: t.compensated + b.compensated,
      failed: t.failed + b.failed,
    }),
    { started: 0, completed: 0, compensated: 0, failed: 0 },
  );
  const chart = $('#activity');
  chart.replaceChildren(svg);
  for (const [k, v] of Object.entries(totals)) chart.dataset[k] = String(v);
}

// ---- what needs attention first ------------------------------------------------------------
const SEVERITY = /** @type {const} */ (['compensation-failed', 'failed', 'stuck', 'non-conforming']);
/** @typedef {(typeof SEVERITY)[number]} Problem */

/**
 * Why a failed saga failed, as one line.
 * @param {ListedSaga} s
 */
function failureText(s) {
  const f = s.failure;
  if (f === undefined) return 'failed';
  const what =
    f.kind === 'compensation-failed'
      ? `undoing ${f.step ?? 'a step'}`
      : f.kind === 'dead-letter'
        ? 'dead-lettered'
        : `step ${f.step ?? '?'}`;
  return `${what}${f.participant ? ` (${f.participant})` : ''}: ${f.reason ?? 'no reason given'}`;
}

/**
 * Why the SDK ended a saga early, as one line: a timeout (the contract's limit) or an operator's abort.
 * @param {Pick<SagaAbort, 'kind' | 'step' | 'reason' | 'by'>} a
 */
function abortText(a) {
  const head = a.kind === 'timeout' ? `Timed out${a.step ? ` at step ${a.step}` : ''}` : `Aborted by ${a.by ?? 'an operator'}`;
  const by = a.kind === 'timeout' && a.by ? ` (${a.by} acted)` : '';
  return `${head}: ${a.reason ?? 'no reason given'}${by}`;
}

async function loadAttention() {
  const [failed, stuck, deviating] = await Promise.all(
    ['status=failed', 'stuck=true', 'conforming=false'].map(
      (q) => /** @type {Promise<SagaListResponse>} */ (api(`/api/sagas?${q}&limit=20`)),
    ),
  );
  /** @type {Map<string, { problem: Problem, saga: ListedSaga, reason: string, since: string }>} */
  const rows = new Map();
  /**
   * @param {Problem} problem
   * @param {ListedSaga} saga
   * @param {string} reason
   * @param {string} since
   */
  const add = (problem, saga, reason, since) => {
    const seen = rows.get(saga.sagaId);
    if (seen === undefined || SEVERITY.indexOf(problem) < SEVERITY.indexOf(seen.problem))
      rows.set(saga.sagaId, { problem, saga, reason, since });
  };
  for (const s of failed?.items ?? [])
    add(s.failure?.kind === 'compensation-failed' ? 'compensation-failed' : 'failed', s, failureText(s), s.endedAt ?? s.lastEventAt);
  for (const s of stuck?.items ?? []) add('stuck', s, s.stuck.reason ?? 'stuck', s.stuck.since ?? s.lastEventAt);
  for (const s of deviating?.items ?? []) add('non-conforming', s, s.deviation ?? s.deviationKinds.join(', '), s.lastEventAt);
  const sorted = [...rows.values()].sort(
    (a, b) => SEVERITY.indexOf(a.problem) - SEVERITY.indexOf(b.problem) || (a.since < b.since ? -1 : 1),
  );
  $('#attention tbody').replaceChildren(
    ...sorted.map((r) =>
      el(
        'tr',
        {
          class: 'row',
          'data-attention': r.problem,
          'data-saga': r.saga.sagaId,
          onclick: () => (location.hash = `#/saga/${encodeURIComponent(r.saga.sagaId)}`),
        },
        [
          el('td', {}, [el('span', { class: `problem p-${r.problem}`, text: r.problem })]),
          el('td', {}, [el('code', { text: r.saga.sagaId })]),
          el('td', { text: r.saga.sagaType }),
          el('td', { class: 'reason', text: r.reason }),
          el('td', { text: time(r.since) }),
        ],
      ),
    ),
  );
  if (sorted.length === 0) $('#attention tbody').append(el('tr', {}, [el('td', { colspan: '5', text: 'Nothing needs attention.' })]));
}

// ---- flow: the contract's steps by stage, with live counts and deviations per step ----------
/** @type {string | undefined} */
let flowType;

/**
 * Lines of text that fit a step box, so no label runs into another.
 * @param {string} text
 * @param {number} max characters
 */
const fit = (text, max) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

/** @param {string} type */
async function loadFlow(type) {
  flowType = type;
  const [flow, stats] = await Promise.all([
    /** @type {Promise<FlowResponse>} */ (api(`/api/types/${encodeURIComponent(type)}/flow`)),
    /** @type {Promise<StatsResponse>} */ (api(`/api/stats?type=${encodeURIComponent(type)}`)),
  ]);
  const byStep = new Map(flow.steps.map((s) => [s.step, s]));
  const stages = flow.stages.length > 0 ? flow.stages : flow.steps.map((s) => [s.step]);
  const participants = new Map((flow.contract?.steps ?? []).map((s) => [s.name, s.participant]));
  // Optional steps (their failure does not fail the saga) are drawn dashed.
  const optional = new Set((flow.contract?.steps ?? []).filter((s) => s.optional === true).map((s) => s.name));
  const counts = stats.types[0];
  // Geometry: fixed boxes in columns; a column holds the steps of one stage (several when parallel).
  const BW = 176;
  const BH = 84;
  const GX = 56;
  const GY = 22;
  const END_W = 150;
  const rows = Math.max(2, ...stages.map((s) => s.length));
  const height = 30 + rows * BH + (rows - 1) * GY;
  const colX = (/** @type {number} */ i) => 20 + END_W + GX + i * (BW + GX);
  const width = colX(stages.length) + END_W + 20;
  const svg = svgEl('svg', { viewBox: `0 0 ${width} ${height}`, width, height, class: 'flow-graph' });
  const midY = height / 2;
  /** @type {{ x: number, y: number, w: number, h: number }[][]} */
  const boxes = [];
  const startBox = { x: 20, y: midY - 26, w: END_W, h: 52 };
  const ends = [
    {
      x: colX(stages.length),
      y: midY - 62,
      w: END_W,
      h: 52,
      label: 'completed',
      type: flow.contract?.end.completed,
      n: counts?.byStatus.completed ?? 0,
    },
    {
      x: colX(stages.length),
      y: midY + 10,
      w: END_W,
      h: 52,
      label: 'aborted',
      type: flow.contract?.end.aborted,
      n: (counts?.byStatus.compensated ?? 0) + (counts?.byStatus.failed ?? 0),
    },
  ];
  stages.forEach((stage, i) => {
    const top = midY - (stage.length * BH + (stage.length - 1) * GY) / 2;
    boxes.push(stage.map((_, j) => ({ x: colX(i), y: top + j * (BH + GY), w: BW, h: BH })));
  });
  // Edges first, so boxes and their labels sit on top.
  /**
   * @param {{ x: number, y: number, w: number, h: number }} a
   * @param {{ x: number, y: number, w: number, h: number }} b
   */
  const edge = (a, b) => svg.append(svgEl('line', { x1: a.x + a.w, y1: a.y + a.h / 2, x2: b.x, y2: b.y + b.h / 2, class: 'edge' }));
  const columns = [[startBox], ...boxes, ends];
  for (let i = 0; i + 1 < columns.length; i++) for (const a of columns[i] ?? []) for (const b of columns[i + 1] ?? []) edge(a, b);
  /**
   * @param {{ x: number, y: number, w: number, h: number }} b
   * @param {string} cls
   * @param {string[]} lines
   * @param {Record<string, string>} data
   */
  const node = (b, cls, lines, data) => {
    const g = svgEl('g', { class: cls });
    for (const [k, v] of Object.entries(data)) g.setAttribute(`data-${k}`, v);
    g.append(svgEl('rect', { x: b.x, y: b.y, width: b.w, height: b.h, rx: 6 }));
    lines.forEach((line, i) => g.append(svgEl('text', { x: b.x + 8, y: b.y + 17 + i * 15, class: i === 0 ? 'title' : 'figure' }, line)));
    svg.append(g);
    return g;
  };
  node(startBox, 'node start', [fit(short(flow.contract?.start ?? 'start'), 22), `${flow.sagas} sagas`], { node: 'start' });
  for (const e of ends)
    node(e, `node end end-${e.label}`, [fit(short(e.type ?? e.label), 22), `${e.n} ${e.label}`], { node: `end-${e.label}` });
  stages.forEach((stage, i) =>
    stage.forEach((name, j) => {
      const b = boxes[i]?.[j];
      if (b === undefined) return;
      /** @type {StepCounts | undefined} */
      const c = byStep.get(name);
      const st = c?.byStatus;
      const lines = [
        fit(name, 24),
        fit(participants.get(name) ?? '', 28),
        `✓ ${st?.completed ?? 0}  ✗ ${st?.failed ?? 0}  ↺ ${st?.compensated ?? 0}  ⚠ ${st?.['compensation-failed'] ?? 0}`,
        `waiting ${c?.awaiting ?? 0}`,
      ];
      const g = node(b, `node step${stage.length > 1 ? ' parallel' : ''}${optional.has(name) ? ' optional' : ''}`, lines, {
        step: name,
        awaiting: String(c?.awaiting ?? 0),
        completed: String(st?.completed ?? 0),
        failed: String(st?.failed ?? 0),
      });
      g.append(
        svgEl(
          'title',
          {},
          `${name}: completed ${st?.completed ?? 0}, failed ${st?.failed ?? 0}, compensated ${st?.compensated ?? 0}, compensation failed ${st?.['compensation-failed'] ?? 0}, waiting ${c?.awaiting ?? 0}, deviations ${c?.deviations ?? 0}`,
        ),
      );
      if ((c?.deviations ?? 0) > 0) {
        // The observed deviations, overlaid on the step's corner.
        const d = svgEl('g', { class: 'deviation-badge', 'data-step': name });
        d.append(svgEl('circle', { cx: b.x + b.w - 4, cy: b.y + 4, r: 11 }));
        d.append(svgEl('text', { x: b.x + b.w - 4, y: b.y + 8, 'text-anchor': 'middle' }, String(c?.deviations ?? 0)));
        svg.append(d);
      }
    }),
  );
  const deviating = counts?.nonConforming ?? 0;
  const note = el('p', {
    class: 'flow-note',
    text: `${flow.sagas} sagas of type ${type}; ${deviating} deviating from the contract${
      counts
        ? ` (${
            Object.entries(counts.deviations)
              .filter(([, v]) => v > 0)
              .map(([k, v]) => `${k} ${v}`)
              .join(', ') || 'none'
          })`
        : ''
    }.${flow.contract === null ? ' No contract: steps as observed.' : ''} Per step: ✓ completed, ✗ failed, ↺ compensated, ⚠ compensation failed, waiting now; a purple badge counts its deviations.`,
  });
  $('#flow').replaceChildren(note, svg);
  const table = el('table', {}, [
    el('thead', {}, [
      el(
        'tr',
        {},
        ['From', 'To', 'Count', 'p50', 'p95', 'p99'].map((h) => el('th', { text: h })),
      ),
    ]),
    el(
      'tbody',
      {},
      flow.edges.map((e) =>
        el(
          'tr',
          {},
          [short(e.from), short(e.to), String(e.count), ms(e.p50), ms(e.p95), ms(e.p99)].map((v) => el('td', { text: v })),
        ),
      ),
    ),
  ]);
  $('#observed-flow').replaceChildren(table);
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

// ---- the list, a page at a time ------------------------------------------------------------
/** Cursors of the pages shown so far: [first page (none), second, …]; the last is the current one. */
/** @type {(string | undefined)[]} */
let pages = [undefined];
/** @type {string | undefined} */
let nextCursor;

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

async function loadList() {
  const q = filterQuery();
  q.set('limit', '25');
  const cursor = pages[pages.length - 1];
  if (cursor) q.set('cursor', cursor);
  const err = $('#list-error');
  try {
    const page = /** @type {SagaListResponse} */ (await api(`/api/sagas?${q}`));
    err.hidden = true;
    $('#sagas tbody').replaceChildren(
      ...page.items.map((s) =>
        el('tr', { class: 'row', 'data-saga': s.sagaId, onclick: () => (location.hash = `#/saga/${encodeURIComponent(s.sagaId)}`) }, [
          el('td', {}, [el('code', { text: s.sagaId })]),
          el('td', { class: 'attributes', text: attributeText(s.attributes) }),
          el('td', { text: s.sagaType }),
          el('td', {}, [badge(s.status)]),
          el('td', { text: time(s.startedAt) }),
          el('td', { text: String(s.eventCount) }),
          el('td', { text: s.currentStep ?? '' }),
          el('td', { class: 'stuck-reason', text: s.stuck.stuck ? (s.stuck.reason ?? '') : s.abort ? abortText(s.abort) : '' }),
          el('td', { class: 'deviation', text: s.deviationKinds.join(', ') }),
        ]),
      ),
    );
    nextCursor = page.nextCursor;
    /** @type {HTMLButtonElement} */ ($('#next')).disabled = !nextCursor;
    /** @type {HTMLButtonElement} */ ($('#prev')).disabled = pages.length <= 1;
    $('#page-number').textContent = `page ${pages.length}`;
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

// ---- one saga ------------------------------------------------------------------------------
/** @param {string} id */
async function showSaga(id) {
  $('#saga-view').hidden = false;
  document.body.classList.add('with-saga');
  const s = /** @type {SagaDetailResponse} */ (await api(`/api/sagas/${encodeURIComponent(id)}`));
  $('#saga-title').replaceChildren(`${s.sagaType} `, el('code', { text: s.sagaId }), ' ', badge(s.status));
  $('#saga-summary').textContent =
    `started ${time(s.startedAt)}${s.endedAt ? `, ended ${time(s.endedAt)}` : ''}; ${s.eventCount} events` +
    (s.hasContract ? `; contract version ${s.sagaVersion ?? 1}` : ' (no contract: observed steps only)') +
    (Object.keys(s.attributes).length > 0 ? `; ${attributeText(s.attributes)}` : '');
  $('#saga-stuck').hidden = !s.stuck.stuck;
  $('#saga-stuck').textContent = s.stuck.stuck ? `Stuck: ${s.stuck.reason ?? ''}` : '';
  $('#saga-abort').hidden = s.abort === undefined;
  $('#saga-abort').textContent = s.abort
    ? `${abortText(s.abort)}${s.abort.lateSteps ? `; answered late and undone: ${s.abort.lateSteps.join(', ')}` : ''}`
    : '';
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
      : `Compensations expected: ${names(c.expected)}; done: ${names(c.done)}; failed: ${names(c.failed)}; left to undo: ${names(c.leftToUndo)}`;
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

// ---- live updates: what any tracker instance ingested, refreshed at most once a second -------
function refresh() {
  void loadCounts();
  void loadActivity();
  void loadAttention();
  void loadList();
  if (flowType !== undefined) void loadFlow(flowType);
}

function live() {
  // EventSource reconnects by itself and sends Last-Event-ID, so a blip loses no change.
  const es = new EventSource('/api/stream');
  let pending = false;
  const soon = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      refresh();
    }, 1000);
  };
  es.addEventListener('open', () => $('#live').classList.remove('off'));
  es.addEventListener('error', () => $('#live').classList.add('off'));
  es.addEventListener('saga', soon);
  // The changes missed are no longer kept: reload everything.
  es.addEventListener('reset', soon);
}

$('#filters').addEventListener('submit', (e) => {
  e.preventDefault();
  pages = [undefined];
  void loadList();
});
$('#next').addEventListener('click', () => {
  if (!nextCursor) return;
  pages.push(nextCursor);
  void loadList();
});
$('#prev').addEventListener('click', () => {
  if (pages.length <= 1) return;
  pages.pop();
  void loadList();
});
$('#flow-type').addEventListener('change', (e) => {
  if (e.target instanceof HTMLSelectElement) void loadFlow(e.target.value);
});
$('#back').addEventListener('click', (e) => {
  e.preventDefault();
  location.hash = '';
});
window.addEventListener('hashchange', () => void route());

await Promise.all([loadCounts(), loadActivity(), loadAttention(), loadList(), loadTypes()]);
await route();
document.body.dataset['ready'] = 'true';
live();

// benchctl's HTML report. Everything it shows comes from the JSON in the
// page; nothing is fetched.
(function () {
  'use strict';
  const t0 = performance.now();
  const D = JSON.parse(document.getElementById('data').textContent);
  const main = document.getElementById('main');
  const tip = document.getElementById('tip');
  const SUBS = ['setup', 'parallelism-wait', 'round-wait', 'launch', 'observe', 'teardown'];
  const PATH_PARTS = ['user', 'kubernetes'].concat(SUBS.map(s => 'controller.' + s));
  const LABEL = {
    'user': 'user code', 'kubernetes': 'kubernetes', 'controller.setup': 'setup',
    'controller.parallelism-wait': 'parallelism wait', 'controller.round-wait': 'round wait',
    'controller.launch': 'launch', 'controller.observe': 'observe', 'controller.teardown': 'teardown', 'controller': 'controller',
  };
  const css = getComputedStyle(document.documentElement);
  const color = part => css.getPropertyValue('--' + part.replace('controller.', '')).trim() || '#999';

  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'text') e.textContent = v;
      else if (k === 'class') e.className = v;
      else if (k.startsWith('data-')) e.setAttribute(k, v);
      else if (k === 'style') e.style.cssText = v;
      else e[k] = v;
    }
    for (const c of kids) if (c != null) e.append(c);
    return e;
  }
  const svgNS = 'http://www.w3.org/2000/svg';
  function svg(tag, attrs) {
    const e = document.createElementNS(svgNS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  // Seconds as benchctl prints them: 412ms, 1.23s, 12.4µs.
  function fmtS(x) {
    const a = Math.abs(x);
    if (a === 0) return '0s';
    if (a < 1e-3) return (x * 1e6).toPrecision(3) + 'µs';
    if (a < 1) return (x * 1e3).toPrecision(3) + 'ms';
    if (a < 60) return x.toPrecision(3) + 's';
    return Math.floor(x / 60) + 'm' + (x % 60).toFixed(0) + 's';
  }
  const pct = x => (100 * x).toFixed(1) + '%';
  function fmtValue(unit, x) {
    if (unit === 's') return fmtS(x);
    if (unit === 'ratio') return pct(x);
    return Number.isInteger(x) ? x.toLocaleString('en') : x.toFixed(2);
  }
  const part = (cp, name) => cp && cp.parts.find(p => p.name === name);

  function legend() {
    const l = el('div', { class: 'legend' });
    for (const p of PATH_PARTS) l.append(el('span', {}, el('i', { style: 'background:' + color(p) }), LABEL[p]));
    l.append(el('span', {}, el('i', { style: 'background:' + color('wait') }), 'waiting for upstream nodes'));
    return l;
  }

  // A stacked bar of named parts, each a span carrying its seconds.
  function stacked(parts, total, cls) {
    const b = el('div', { class: 'bar ' + (cls || ''), 'data-total': String(total) });
    for (const [name, secs] of parts) {
      if (!(secs > 0) || !(total > 0)) continue;
      b.append(el('span', {
        style: 'width:' + (100 * secs / total) + '%;background:' + color(name),
        title: LABEL[name] + ' ' + fmtS(secs), 'data-part': name, 'data-seconds': String(secs),
      }));
    }
    return b;
  }

  // The samples of a statistic as dots, with the median and its interval.
  function strip(st) {
    const w = 180, h = 22, pad = 4;
    const s = svg('svg', { width: w, height: h, class: 'strip' });
    const xs = st.samples || [];
    if (!xs.length) return s;
    let lo = Math.min(...xs), hi = Math.max(...xs);
    if (st.medianCI) { lo = Math.min(lo, st.medianCI.lo); hi = Math.max(hi, st.medianCI.hi); }
    const span = hi - lo || 1;
    const x = v => pad + (w - 2 * pad) * (v - lo) / span;
    s.append(svg('line', { x1: pad, x2: w - pad, y1: h / 2, y2: h / 2, stroke: '#e2e8f0' }));
    if (st.medianCI) s.append(svg('rect', { x: x(st.medianCI.lo), y: 4, width: Math.max(1, x(st.medianCI.hi) - x(st.medianCI.lo)), height: h - 8, fill: '#bee3f8' }));
    for (const v of xs) s.append(svg('circle', { cx: x(v), cy: h / 2, r: 3, fill: '#2b6cb0', 'fill-opacity': 0.6 }));
    s.append(svg('line', { x1: x(st.median), x2: x(st.median), y1: 2, y2: h - 2, stroke: '#1a202c', 'stroke-width': 2 }));
    const t = svg('title', {}); t.textContent = xs.map(fmtS).join(', ');
    s.append(t);
    return s;
  }

  function envBlock(r) {
    const e = r.environment, run = r.run;
    const dl = el('dl', { class: 'env' });
    const add = (k, v) => dl.append(el('dt', { text: k }), el('dd', { text: v }));
    if (e.engine) add('engine', e.engine.name + ' ' + (e.engine.version || '-'));
    add('config', e.config.name + ' (' + (e.config.hash || '').replace('sha256:', '').slice(0, 12) + ')');
    add('controller', e.controller.version + ' (' + e.controller.commit + ')' + (e.controller.source ? ', ' + e.controller.source : ''));
    add('cluster', e.provider.name + ', Kubernetes ' + (e.provider.kubernetesVersion || '-') + ', ' + e.provider.nodes + ' nodes' +
      Object.entries(e.provider.options || {}).map(([k, v]) => '; ' + k + ' ' + v).join(''));
    add('host', e.host.os + '/' + e.host.arch + ', ' + e.host.cpus + ' CPUs, ' + e.host.goVersion);
    add('portfolio', e.portfolio.name + ' tier ' + e.portfolio.tier + ' (' + e.portfolio.hash.replace('sha256:', '').slice(0, 12) + ')');
    add('run', run.warmup + ' warm-up, ' + run.repetitions + ' repetitions, interleaving ' + run.interleaving.mode +
      (run.start ? ', started ' + run.start : ''));
    add('benchctl', e.benchctl.version + ' (' + e.benchctl.commit + ')');
    return dl;
  }

  function verdict(v) {
    const warn = (v.reasons || []).length > 0;
    const cls = !v.valid ? 'invalid' : warn ? 'warn' : 'valid';
    const label = !v.valid ? 'INVALID' : warn ? 'valid, with warnings' : 'valid';
    const box = el('div', {}, el('span', { class: 'verdict ' + cls, text: 'validity: ' + label, 'data-valid': String(v.valid) }));
    if (warn) {
      const ul = el('ul', { class: 'reasons' });
      for (const r of v.reasons) ul.append(el('li', { text: r.severity + ' ' + r.kind + (r.workflow ? ' (' + r.workflow + ')' : '') + ': ' + r.message }));
      box.append(ul);
    }
    return box;
  }

  function summaryTable(r) {
    const t = el('table', { class: 'summary' });
    t.append(el('tr', {}, ...['workflow', 'wall (median)', 'wall samples', 'critical path (seconds of wall time)', '', 'node sums (node-seconds)'].map(h => el('th', { text: h }))));
    for (const w of r.workflows) {
      const cp = w.criticalPath;
      const row = el('tr', { 'data-workflow': w.name });
      row.append(el('td', {}, el('a', { href: '#wf-' + cssId(r.environment.config.name + '-' + w.name), text: w.name })));
      const ci = w.wall.medianCI ? ' [' + fmtS(w.wall.medianCI.lo) + ', ' + fmtS(w.wall.medianCI.hi) + ']' : '';
      row.append(el('td', { class: 'num', text: fmtS(w.wall.median) + ci }));
      row.append(el('td', {}, strip(w.wall)));
      if (cp) {
        const med = cp.median.execution;
        const parts = PATH_PARTS.map(n => [n, part(cp, n).seconds.samples[med]]);
        const bar = stacked(parts, w.wall.samples[med], 'cp');
        bar.setAttribute('data-wall', String(w.wall.samples[med]));
        bar.setAttribute('data-workflow', w.name);
        row.append(el('td', {}, bar));
        const c = part(cp, 'controller');
        row.append(el('td', { class: 'num', text: pct(c.share.median) + ' controller' }));
      } else {
        row.append(el('td', { class: 'muted', text: 'not in this report' }), el('td'));
      }
      const o = w.overhead;
      const sums = [['user', o.user.median], ['kubernetes', o.kubernetes.median], ['controller', o.controller.median]];
      const nb = stacked(sums, o.total.median, 'sums');
      nb.title = 'Σ over nodes: user ' + fmtS(o.user.median) + ', kubernetes ' + fmtS(o.kubernetes.median) + ', controller ' + fmtS(o.controller.median);
      row.append(el('td', {}, nb, el('div', { class: 'muted', text: fmtS(o.controller.median) + ' controller node-seconds' })));
      t.append(row);
    }
    return t;
  }

  function cssId(s) { return s.replace(/[^A-Za-z0-9_-]/g, '_'); }

  // One execution's timeline on a canvas: a row per attempt, phases as
  // colours, the critical path as a strip on top and outlined bars.
  function drawTimeline(wrap, tl) {
    wrap.textContent = '';
    const bars = tl.bars;
    const labelW = 180, axisH = 22, pathH = 16, gap = 6;
    const rowH = bars.length > 120 ? Math.max(2, Math.floor(720 / bars.length)) : 16;
    const width = Math.max(900, wrap.clientWidth - 2);
    const plotW = width - labelW - 12;
    const height = axisH + pathH + gap + rowH * bars.length + 8;
    const dpr = window.devicePixelRatio || 1;
    const cv = el('canvas', { class: 'tl' });
    cv.width = width * dpr; cv.height = height * dpr;
    cv.style.width = width + 'px'; cv.style.height = height + 'px';
    const g = cv.getContext('2d');
    g.scale(dpr, dpr);
    const T = Math.max(tl.wall, 1e-9);
    const X = s => labelW + plotW * s / T;
    g.font = '11px system-ui, sans-serif';
    g.fillStyle = '#718096';
    g.strokeStyle = '#edf2f7';
    const step = niceStep(T / 8);
    for (let s = 0; s <= T + 1e-12; s += step) {
      g.beginPath(); g.moveTo(X(s), axisH - 4); g.lineTo(X(s), height); g.stroke();
      g.fillText(fmtS(s), X(s) + 2, 12);
    }
    g.fillStyle = '#1a202c';
    g.fillText('critical path', 4, axisH + 12);
    for (const p of tl.path) {
      g.fillStyle = color(p.part);
      g.fillRect(X(p.start), axisH, Math.max(0.5, X(p.start + p.seconds) - X(p.start)), pathH);
    }
    const top = axisH + pathH + gap;
    let lastNode = null;
    bars.forEach((b, i) => {
      const y = top + i * rowH;
      const h = Math.max(1, rowH - (rowH > 4 ? 3 : 0));
      if (rowH >= 12) {
        g.fillStyle = b.critical ? '#1a202c' : '#4a5568';
        g.fillText(barLabel(b).slice(0, 28), 4, y + rowH - 4);
      } else if (b.node !== lastNode) {
        g.fillStyle = '#4a5568';
        g.fillText(b.node, 4, y + 10);
      }
      lastNode = b.node;
      g.fillStyle = color('wait');
      g.fillRect(X(b.scope), y + h / 2 - 0.5, Math.max(0, X(b.ready) - X(b.scope)), 1);
      const phases = b.cached ? [[b.ready, b.done, 'controller.launch']] : [
        [b.ready, b.slotFree, 'controller.parallelism-wait'], [b.slotFree, b.handled, 'controller.round-wait'],
        [b.handled, b.launched, 'controller.launch'], [b.launched, b.started, 'kubernetes'], [b.started, b.finished, 'user'],
        [b.finished, b.seen, 'controller.observe'], [b.seen, b.done, 'controller.round-wait']];
      for (const [a, z, p] of phases) {
        if (z > a) { g.fillStyle = color(p); g.fillRect(X(a), y, Math.max(0.5, X(z) - X(a)), h); }
      }
      if (b.critical && rowH >= 4) {
        g.strokeStyle = '#000'; g.lineWidth = 1.5;
        g.strokeRect(X(b.ready), y + 0.5, Math.max(1, X(b.done) - X(b.ready)), h - 1);
        g.strokeStyle = '#edf2f7'; g.lineWidth = 1;
      } else if (b.critical) {
        g.fillStyle = '#000'; g.fillRect(labelW - 6, y, 4, h);
      }
    });
    cv.dataset.bars = String(bars.length);
    cv.dataset.critical = String(bars.filter(b => b.critical).length);
    cv.addEventListener('mousemove', ev => {
      const r = cv.getBoundingClientRect();
      const x = ev.clientX - r.left, y = ev.clientY - r.top;
      const s = (x - labelW) * T / plotW;
      let text = null;
      if (y >= axisH && y < axisH + pathH) {
        const p = tl.path.find(p => s >= p.start && s <= p.start + p.seconds);
        if (p) text = 'critical path: ' + LABEL[p.part] + ' ' + fmtS(p.seconds) + '\n' + (p.node ? barLabel(p) + '\n' : '') +
          'from ' + fmtS(p.start) + ' to ' + fmtS(p.start + p.seconds);
      } else if (y >= top) {
        const b = bars[Math.floor((y - top) / rowH)];
        if (b) text = barTip(b);
      }
      if (text) { tip.textContent = text; tip.hidden = false; tip.style.left = (ev.clientX + 14) + 'px'; tip.style.top = (ev.clientY + 10) + 'px'; }
      else tip.hidden = true;
    });
    cv.addEventListener('mouseleave', () => { tip.hidden = true; });
    wrap.append(cv);
    return cv;
  }
  function niceStep(x) {
    const p = Math.pow(10, Math.floor(Math.log10(x)));
    for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
    return 10 * p;
  }
  function barLabel(b) {
    let s = b.node || '(workflow)';
    if (b.item != null && b.item >= 0) s += '[' + b.item + ']';
    if (b.attempt > 1) s += ' #' + b.attempt;
    return s;
  }
  function barTip(b) {
    const lines = [barLabel(b) + (b.critical ? '  (on the critical path)' : '') + (b.cached ? '  (cache hit)' : '')];
    const row = (k, a, z) => lines.push(k.padEnd(20) + fmtS(z - a).padStart(9) + '   ' + fmtS(a) + ' → ' + fmtS(z));
    row('waiting for upstream', b.scope, b.ready);
    if (b.cached) { row('cache lookup', b.ready, b.done); return lines.join('\n'); }
    if (b.slotFree > b.ready) row('parallelism wait', b.ready, b.slotFree);
    row('wait for a round', b.slotFree, b.handled);
    row('launch', b.handled, b.launched);
    row('kubernetes', b.launched, b.started);
    row('user code', b.started, b.finished);
    row('observe', b.finished, b.seen);
    if (b.done > b.seen) row('wait for a round', b.seen, b.done);
    return lines.join('\n');
  }

  function workflowDetails(sec, r, w) {
    const id = 'wf-' + cssId(r.environment.config.name + '-' + w.name);
    const d = el('details', { class: 'wf', id: id, 'data-workflow': w.name });
    const cp = w.criticalPath;
    let head = w.name + ': ' + fmtS(w.wall.median) + ' wall';
    if (cp) {
      const p = n => fmtS(part(cp, n).seconds.median);
      head += ' — critical path: ' + p('user') + ' user, ' + p('kubernetes') + ' kubernetes, ' + p('controller') +
        ' controller (' + pct(part(cp, 'controller').share.median) + ')';
    }
    d.append(el('summary', {}, el('h3', { text: head })));
    const tls = sec.timelines.filter(t => t.workflow === w.name);
    if (!tls.length) {
      d.append(el('p', { class: 'muted', text: D.noTimelines || 'No timelines: they come from the run\'s records.' }));
      return d;
    }
    const sel = el('select', { 'aria-label': 'execution' });
    const median = cp ? cp.median.execution : 0;
    tls.forEach((t, i) => sel.append(el('option', { value: String(i), text: 'repetition ' + t.repetition + ' (' + fmtS(t.wall) + ')' + (t.sample === median ? ' — median' : ''), selected: t.sample === median })));
    const info = el('span', { class: 'muted' });
    const wrap = el('div', { class: 'tlwrap' });
    d.append(el('div', { class: 'tlhead' }, el('label', {}, 'execution ', sel), info), wrap);
    const draw = () => {
      const t = tls[Number(sel.value)];
      info.textContent = t.bars.length + ' attempts; setup ' + fmtS(t.setup) + ', teardown ' + fmtS(t.teardown) +
        '; hover for instants. Outlined bars are on the critical path.';
      drawTimeline(wrap, t);
    };
    sel.addEventListener('change', draw);
    d.addEventListener('toggle', () => { if (d.open && !wrap.firstChild) draw(); });
    d.draw = draw;
    return d;
  }

  function renderSection(sec) {
    const r = sec.report;
    const s = el('section', { class: 'report', 'data-config': r.environment.config.name });
    s.append(el('h2', { text: 'config ' + r.environment.config.name }), el('div', { class: 'muted', text: sec.source }));
    s.append(verdict(r.validity), envBlock(r), legend(), summaryTable(r));
    for (const w of r.workflows) s.append(workflowDetails(sec, r, w));
    main.append(s);
  }

  function renderDiff(d) {
    const s = el('section', { class: 'diff' });
    s.append(el('h2', { text: 'diff: ' + d.b.config + ' against ' + d.a.config }));
    s.append(el('p', { class: 'muted', text: 'A ' + (d.a.file || d.a.config) + ' (' + d.a.controller + ') · B ' + (d.b.file || d.b.config) +
      ' (' + d.b.controller + ') · Mann-Whitney U, alpha ' + d.alpha + (d.correction ? ', p adjusted (' + d.correction + ')' : '') +
      '; "~" is no significant difference. shift: Hodges-Lehmann estimate of B − A with its distribution-free interval.' }));
    for (const wmsg of d.warnings || []) s.append(el('div', { class: 'note', text: wmsg }));
    // Significant rows first: the rest is a long list of "~".
    const anySig = d.rows.some(r => r.significant);
    if (!anySig) s.append(el('div', { class: 'note', text: 'No significant difference at alpha ' + d.alpha + ' in any of ' + d.rows.length + ' rows.' }));
    const only = el('input', { type: 'checkbox' });
    only.checked = anySig;
    s.append(el('label', {}, only, ' significant rows only'));
    const t = el('table', { class: 'diffrows' });
    const level = c => (Math.floor(1000 * c + 1e-9) / 10) + '%';
    t.append(el('tr', {}, ...['workflow', 'node', 'metric', 'A', 'B', 'intervals', 'change', 'shift [' + level(1 - d.alpha) + ']', 'p', 'verdict'].map(h => el('th', { text: h }))));
    // The Hodges-Lehmann shift with its interval: relative to A's median
    // when there is one, else absolute; its level when below 1 - alpha.
    const pct = x => (Math.abs(x) < 0.05 ? '+0.0' : (x > 0 ? '+' : '') + x.toFixed(1)) + '%';
    const signed = (u, x) => (x >= 0 ? '+' : '-') + fmtValue(u, Math.abs(x));
    const shiftText = r => {
      if (r.shift == null) return '';
      const pi = r.shiftPercentInterval, ai = r.shiftInterval;
      const s = r.shiftPercent != null ? pct(r.shiftPercent) + ' [' + pct(pi.lo) + ', ' + pct(pi.hi) + ']'
        : signed(r.unit, r.shift) + ' [' + signed(r.unit, ai.lo) + ', ' + signed(r.unit, ai.hi) + ']';
      return ai.confidence < 1 - d.alpha ? s + ' at ' + level(ai.confidence) : s;
    };
    const rows = [];
    for (const r of d.rows) {
      const interval = (x, noise) => noise != null ? [x * (1 - noise), x * (1 + noise)] : [x, x];
      const ia = interval(r.a, r.noiseA), ib = interval(r.b, r.noiseB);
      const w = 160, h = 18, lo = Math.min(ia[0], ib[0]), hi = Math.max(ia[1], ib[1]), span = hi - lo || 1;
      const X = v => 4 + (w - 8) * (v - lo) / span;
      const g = svg('svg', { width: w, height: h });
      for (const [iv, m, y, c] of [[ia, r.a, 5, '#718096'], [ib, r.b, 13, '#2b6cb0']]) {
        g.append(svg('line', { x1: X(iv[0]), x2: X(iv[1]), y1: y, y2: y, stroke: c, 'stroke-width': 2 }));
        g.append(svg('circle', { cx: X(m), cy: y, r: 3, fill: c }));
      }
      const v = r.verdict;
      const tr = el('tr', { 'data-significant': String(r.significant) },
        el('td', { text: r.workflow }), el('td', { text: r.node || '' }), el('td', { text: r.metric }),
        el('td', { class: 'num', text: fmtValue(r.unit, r.a) }), el('td', { class: 'num', text: fmtValue(r.unit, r.b) }),
        el('td', {}, g), el('td', { class: 'num', text: r.change != null ? (r.change > 0 ? '+' : '') + r.change.toFixed(1) + '%' : '' }),
        el('td', { class: 'num shift', text: shiftText(r) }),
        el('td', { class: 'num', text: 'p=' + r.p.toFixed(3) + (r.pAdjusted != null ? ' adj ' + r.pAdjusted.toFixed(3) : '') + ' n=' + r.na + '+' + r.nb }),
        el('td', { class: v === 'worse' ? 'sig-worse' : v === 'better' ? 'sig-better' : '', text: v }));
      rows.push(tr);
      t.append(tr);
    }
    const filter = () => rows.forEach(tr => { tr.hidden = only.checked && tr.dataset.significant !== 'true'; });
    only.addEventListener('change', filter);
    filter();
    s.append(t);
    if (d.gate) s.append(el('p', { text: 'gate: ' + ((d.gate.violations || []).length ? d.gate.violations.length + ' violation(s)' : 'passed') }));
    main.append(s);
  }

  // A history: one line chart per metric over the reports, a dashed line
  // where a change point starts and the level of each segment between.
  function renderHistory(H) {
    const h = H.document, m = h.method;
    const s = el('section', { class: 'history' });
    s.append(el('h2', { text: 'history of ' + h.reports.length + ' reports' }));
    s.append(el('p', { class: 'muted', text: 'Change points by ' + m.name + ' (' + m.reference + '), permutation test at alpha ' + m.alpha +
      ', ' + m.permutations + ' permutations, seed ' + m.seed + '.' }));
    for (const f of h.incomparable || []) s.append(el('div', { class: 'note', text: 'forced: ' + f }));
    for (const w of h.warnings || []) s.append(el('div', { class: 'note', text: w }));
    s.append(el('p', { text: H.summary + ' Dashed red lines mark where a metric shifted; hover a point or a line for its values.' }));
    const short = c => c ? c.slice(0, 12) : '-';
    const signed = (u, x) => (x >= 0 ? '+' : '-') + fmtValue(u, Math.abs(x));
    const n = h.reports.length, W = 760, Hh = 150, L = 64, R = 12, T = 10, B = 22;
    const X = i => n <= 1 ? (L + W - R) / 2 : L + i * (W - L - R) / (n - 1);
    const series = H.all ? h.series : h.series.filter(x => (x.changes || []).length);
    if (!series.length) s.append(el('div', { class: 'note', text: 'No metric has a change point; benchctl history --all charts every metric.' }));
    const hover = (node, text) => {
      node.addEventListener('mousemove', ev => { tip.textContent = text; tip.hidden = false; tip.style.left = (ev.clientX + 14) + 'px'; tip.style.top = (ev.clientY + 10) + 'px'; });
      node.addEventListener('mouseleave', () => { tip.hidden = true; });
    };
    for (const se of series) {
      const vals = se.points.map(p => p.median);
      let lo = Math.min(...vals), hi = Math.max(...vals);
      if (hi === lo) { lo -= Math.abs(lo) * 0.05 || 1; hi += Math.abs(hi) * 0.05 || 1; }
      const Y = v => T + (Hh - T - B) * (1 - (v - lo) / (hi - lo));
      const sec = el('div', { class: 'hseries', 'data-metric': se.workflow + ' ' + se.metric });
      sec.append(el('h3', { text: se.workflow + ' ' + se.metric }));
      const changes = se.changes || [];
      sec.append(el('div', { class: 'muted', text: changes.length ? changes.map(c => 'from #' + c.report + ' (commit ' + short(c.commit) + '): ' +
        fmtValue(se.unit, c.before) + ' → ' + fmtValue(se.unit, c.after) + ' (' + signed(se.unit, c.shift) +
        (c.shiftPercent != null ? ', ' + (c.shiftPercent >= 0 ? '+' : '') + c.shiftPercent.toFixed(1) + '%' : '') + '), p=' + c.p.toFixed(3)).join('; ') : 'no change point' }));
      const g = svg('svg', { width: W, height: Hh, class: 'hchart', role: 'img', 'aria-label': se.workflow + ' ' + se.metric });
      g.append(svg('rect', { x: L, y: T, width: W - L - R, height: Hh - T - B, fill: '#f7fafc', stroke: '#e2e8f0' }));
      for (const [v, y] of [[hi, T], [lo, Hh - B]]) {
        const t = svg('text', { x: L - 6, y: y + 4, 'text-anchor': 'end', 'font-size': 11, fill: '#718096' });
        t.textContent = fmtValue(se.unit, v);
        g.append(t);
      }
      const step = Math.max(1, Math.ceil(n / 12));
      for (let i = 0; i < n; i += step) {
        const t = svg('text', { x: X(i), y: Hh - 6, 'text-anchor': 'middle', 'font-size': 10, fill: '#718096' });
        t.textContent = '#' + i;
        g.append(t);
      }
      // Segment levels: before the first change, between changes, after
      // the last, as the analysis estimated them.
      const bounds = [0].concat(changes.map(c => c.report), [n]);
      for (let k = 0; changes.length && k + 1 < bounds.length; k++) {
        const level = k < changes.length ? changes[k].before : changes[k - 1].after;
        const x1 = X(bounds[k]) - (k ? (X(1) - X(0)) / 2 : 0), x2 = X(bounds[k + 1] - 1) + (k + 1 < bounds.length - 1 ? (X(1) - X(0)) / 2 : 0);
        g.append(svg('line', { class: 'level', x1, x2, y1: Y(level), y2: Y(level), stroke: '#a0aec0', 'stroke-width': 1 }));
      }
      for (const c of changes) {
        const x = (X(c.report - 1) + X(c.report)) / 2;
        const ln = svg('line', { class: 'change', x1: x, x2: x, y1: T, y2: Hh - B, stroke: '#e53e3e', 'stroke-width': 2, 'stroke-dasharray': '5 3' });
        hover(ln, 'change point at report #' + c.report + ' (commit ' + short(c.commit) + ', ' + c.source + ')\n' +
          fmtValue(se.unit, c.before) + ' → ' + fmtValue(se.unit, c.after) + '  p=' + c.p.toFixed(3));
        g.append(ln);
      }
      g.append(svg('polyline', { fill: 'none', stroke: '#2b6cb0', 'stroke-width': 1.5, points: se.points.map(p => X(p.report).toFixed(1) + ',' + Y(p.median).toFixed(1)).join(' ') }));
      for (const p of se.points) {
        const r = h.reports[p.report];
        const dot = svg('circle', { class: 'point', cx: X(p.report), cy: Y(p.median), r: 3.5, fill: r.valid ? '#2b6cb0' : '#fff', stroke: '#2b6cb0' });
        hover(dot, '#' + p.report + ' ' + short(r.commit) + ' ' + r.source + '\n' + fmtValue(se.unit, p.median) + (r.valid ? '' : ' (report not valid)'));
        g.append(dot);
      }
      sec.append(g);
      s.append(sec);
    }
    const t = el('table', { class: 'hreports' });
    t.append(el('tr', {}, ...['#', 'start', 'commit', 'config', 'valid', 'source'].map(x => el('th', { text: x }))));
    for (const r of h.reports) t.append(el('tr', {}, el('td', { class: 'num', text: String(r.index) }), el('td', { text: r.start.replace('T', ' ').replace(/\.\d+/, '') }),
      el('td', { text: short(r.commit) }), el('td', { text: r.config }), el('td', { text: r.valid ? 'yes' : 'no' }), el('td', { text: r.source })));
    s.append(el('h3', { text: 'reports' }), t);
    main.append(s);
  }

  main.textContent = '';
  if (D.noTimelines) main.append(el('div', { class: 'note', text: D.noTimelines }));
  D.sections.forEach(renderSection);
  D.diffs.forEach(renderDiff);
  if (D.history) renderHistory(D.history);
  // Open the first workflow's timeline, as a reader would start.
  const first = document.querySelector('details.wf');
  if (first && D.sections.some(s => s.timelines.length)) first.open = true;
  window.benchctl = {
    renderMs: performance.now() - t0,
    // drawAll opens every workflow and draws its median timeline (tests,
    // screenshots).
    drawAll() { document.querySelectorAll('details.wf').forEach(d => { d.open = true; if (d.draw) d.draw(); }); },
  };
  document.body.dataset.rendered = 'true';
})();

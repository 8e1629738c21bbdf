/**
 * The browser side of `lrt serve`, served as app.js: polls /api/status and /api/tokens and fills
 * the page. Plain ES2017 for any browser; all data goes in through textContent.
 */
export const CLIENT_JS = `'use strict';
(function () {
  var REFRESH_MS = Number(document.documentElement.dataset.refresh || 0) || 5000;
  var PAGE = 50;
  // at: the page asked for (after=CURSOR or before=CURSOR, from the last answer), '' the first page.
  var state = { at: '', filter: '', offset: 0, next: null, previous: null };
  var $ = function (id) { return document.getElementById(id); };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function duration(s) {
    if (s > 0 && s < 10) return Number(s.toFixed(s < 1 ? 2 : 1)) + 's';
    s = Math.max(0, Math.round(s));
    var d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), sec = s % 60;
    var p = function (n) { return (n < 10 ? '0' : '') + n; };
    if (d) return d + 'd ' + p(h) + 'h';
    if (h) return h + 'h ' + p(m) + 'm';
    if (m) return m + 'm ' + p(sec) + 's';
    return sec + 's';
  }
  function fillTable(id, rows, cells) {
    var body = $(id).tBodies[0];
    body.replaceChildren();
    rows.forEach(function (row) {
      var tr = el('tr');
      cells(row).forEach(function (c) { tr.appendChild(c instanceof Node ? c : el('td', c)); });
      body.appendChild(tr);
    });
    if (!rows.length) { var tr = el('tr'); var td = el('td', 'none', 'muted'); td.colSpan = 9; tr.appendChild(td); body.appendChild(tr); }
  }
  function getJson(url) {
    return fetch(url, { cache: 'no-store' }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error((body.error && body.error.message) || ('HTTP ' + r.status));
        return body;
      });
    });
  }

  function showStatus(r) {
    $('title').textContent = r.type + ' in ' + r.database;
    var pct = Math.round(r.progress * 1000) / 10;
    $('progress-fill').style.width = pct + '%';
    $('progress').setAttribute('aria-valuenow', String(pct));
    $('progress-text').textContent = pct + '% — ' + r.finished + ' of ' + r.total + ' finished (' + r.done + ' done, ' + r.error + ' error)';
    var counts = $('counts');
    counts.replaceChildren();
    var select = $('state-filter');
    var known = {};
    Array.prototype.forEach.call(select.options, function (o) { known[o.value] = true; });
    r.states.forEach(function (s) {
      var c = el('span', s.state, 'count state-' + s.state);
      c.dataset.state = s.state;
      c.appendChild(el('b', s.n));
      counts.appendChild(c);
      if (!known[s.state]) { var o = el('option', s.state); o.value = s.state; select.appendChild(o); }
    });
    var rate = r.throughput ? (Math.round(r.throughput.perHour * 10) / 10) + ' tokens/h' : 'no token finished yet';
    var eta = r.total === 0 ? 'no tokens' : r.etaSeconds === undefined ? 'unknown' : r.etaSeconds === 0 ? 'all finished' : duration(r.etaSeconds);
    $('rate').textContent = 'Throughput ' + rate + ' · ETA ' + eta +
      (r.attempt ? ' · median attempt ' + duration(r.attempt.median) : '');
    fillTable('phases', r.phases, function (p) { return [p.phase, duration(p.median), p.n]; });
    $('failing-count').textContent = '(' + r.failing.length + ')';
    fillTable('failing', r.failing.slice(0, 50), function (f) {
      var exit = f.exit === undefined ? '' : f.exit + (f.exitMeaning ? ' (' + f.exitMeaning + ')' : '');
      var msg = el('td', f.message, 'msg');
      if (f.stderrTail && f.stderrTail.length) msg.appendChild(el('pre', f.stderrTail.join('\\n'), 'stderr'));
      return [f.id, f.phase || '', exit, f.attempts, msg];
    });
    $('stale-count').textContent = '(' + r.stale.length + ')';
    fillTable('stale', r.stale.slice(0, 50), function (s) {
      return [s.id, s.pilot || '', s.host || '', s.attempt || '', duration(s.expiredFor) + ' ago'];
    });
    $('taken-count').textContent = '(' + r.takenOver.length + ')';
    fillTable('taken', r.takenOver.slice(0, 50), function (t) {
      return [t.id, t.by, t.finished ? 'finished' : 'running', t.pilot || '', t.host || ''];
    });
    $('updated').textContent = 'updated ' + new Date(r.at * 1000).toISOString().replace('T', ' ').replace(/\\.\\d+Z$/, ' UTC');
  }

  function logCell(row) {
    var td = el('td');
    row.logs.forEach(function (name) {
      var a = el('a', name.replace(/^attempt-\\d+\\./, '').replace(/\\.log$/, ''));
      a.href = 'api/logs?token=' + encodeURIComponent(row.id) + '&name=' + encodeURIComponent(name);
      a.target = '_blank';
      a.rel = 'noopener';
      a.title = name;
      td.appendChild(a);
    });
    return td;
  }
  function showTokens(page) {
    fillTable('tokens', page.rows, function (t) {
      var id = el('td', t.id); id.className = 'token-id';
      var st = el('td', t.state); st.className = 'state';
      return [id, st, t.status, t.progress === undefined ? '' : Math.round(t.progress * 100) + '%', t.attempts, t.host,
        t.exit === undefined ? '' : t.exit, logCell(t)];
    });
    state.next = page.next;
    state.previous = page.previous;
    if (!page.previous) state.offset = 0;
    var first = page.rows.length ? state.offset + 1 : 0;
    $('page-info').textContent = first + '–' + (state.offset + page.rows.length) + ' of ' + page.total;
    $('prev').disabled = !page.previous;
    $('next').disabled = !page.next;
  }

  var latest = 0;
  function refresh() {
    // A slow answer to an older request (before a filter change) must not overwrite a newer one.
    var mine = ++latest;
    var q = 'api/tokens?limit=' + PAGE + (state.at ? '&' + state.at : '') + (state.filter ? '&state=' + encodeURIComponent(state.filter) : '');
    return Promise.all([getJson('api/status'), getJson(q)]).then(function (both) {
      if (mine !== latest) return;
      $('error').hidden = true;
      showStatus(both[0]);
      showTokens(both[1]);
    }).catch(function (err) {
      $('error').hidden = false;
      $('error').textContent = 'cannot read the status: ' + err.message;
    });
  }
  // A refresh that took long (a large campaign, a busy server) is not asked again at once: the
  // page waits twice as long as the refresh took (at most a minute), and says so.
  function loop() {
    var started = Date.now();
    refresh().then(function () {
      var took = Date.now() - started;
      var wait = took * 2 > REFRESH_MS ? Math.min(60000, took * 2) : REFRESH_MS;
      $('slow').textContent = wait > REFRESH_MS
        ? 'refresh took ' + duration(took / 1000) + ', next in ' + duration(wait / 1000) : '';
      setTimeout(loop, wait);
    });
  }

  // Pages follow the cursors of the answer (by key, never skip): a deep page costs what the first does.
  $('state-filter').addEventListener('change', function (e) { state.filter = e.target.value; state.at = ''; state.offset = 0; refresh(); });
  $('prev').addEventListener('click', function () {
    if (!state.previous) return;
    state.at = 'before=' + encodeURIComponent(state.previous); state.offset = Math.max(0, state.offset - PAGE); refresh();
  });
  $('next').addEventListener('click', function () {
    if (!state.next) return;
    state.at = 'after=' + encodeURIComponent(state.next); state.offset += PAGE; refresh();
  });
  loop();
})();
`;

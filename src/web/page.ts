/**
 * The one page of `lrt serve`: static HTML and CSS. Every value from the database is put in by
 * client.ts with textContent, never as HTML, so token data cannot inject markup.
 */
export const PAGE_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>grid-lrt status</title>
<link rel="stylesheet" href="app.css">
</head>
<body>
<header>
  <h1>grid-lrt <span id="title">status</span></h1>
  <div class="muted"><span id="updated">loading…</span> <span id="slow"></span></div>
</header>
<main>
  <section id="overview" aria-label="overview">
    <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" id="progress">
      <div class="fill" id="progress-fill"></div>
    </div>
    <div id="progress-text" class="big"></div>
    <div id="counts" class="counts"></div>
    <div id="rate"></div>
  </section>
  <section>
    <h2>Median time per phase</h2>
    <table id="phases"><thead><tr><th>phase</th><th>median</th><th>tokens</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Failing tokens <span id="failing-count" class="muted"></span></h2>
    <table id="failing"><thead><tr><th>token</th><th>phase</th><th>exit</th><th>attempts</th><th>last error (and stderr)</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Stale leases <span id="stale-count" class="muted"></span></h2>
    <table id="stale"><thead><tr><th>token</th><th>pilot</th><th>host</th><th>attempt</th><th>expired</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Taken over by another tool <span id="taken-count" class="muted"></span></h2>
    <table id="taken"><thead><tr><th>token</th><th>lock changed by</th><th>state there</th><th>our pilot</th><th>our host</th></tr></thead><tbody></tbody></table>
  </section>
  <section>
    <h2>Tokens</h2>
    <div class="controls">
      <label>state <select id="state-filter"><option value="">all</option></select></label>
      <button id="prev" type="button">‹ previous</button>
      <span id="page-info" class="muted"></span>
      <button id="next" type="button">next ›</button>
    </div>
    <table id="tokens"><thead><tr><th>token</th><th>state</th><th>status</th><th>progress</th><th>attempts</th><th>host</th><th>exit</th><th>logs</th></tr></thead><tbody></tbody></table>
  </section>
  <div id="error" class="error" hidden></div>
</main>
<script src="app.js"></script>
</body>
</html>
`;

export const PAGE_CSS = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d2430; background: #f6f7f9; }
header { background: #1d3557; color: #fff; padding: 12px 20px; display: flex; justify-content: space-between; align-items: baseline; }
header h1 { font-size: 18px; margin: 0; }
header .muted { color: #c9d3e0; }
main { padding: 12px 20px; max-width: 1200px; }
section { background: #fff; border: 1px solid #dde2e8; border-radius: 6px; padding: 10px 14px; margin-bottom: 12px; }
h2 { font-size: 15px; margin: 4px 0 8px; }
.bar { height: 18px; background: #e3e8ee; border-radius: 9px; overflow: hidden; }
.fill { height: 100%; width: 0; background: #2a9d8f; transition: width .5s; }
.big { font-size: 16px; margin: 6px 0; }
.counts { display: flex; gap: 8px; flex-wrap: wrap; margin: 6px 0; }
.count { border-radius: 4px; padding: 2px 8px; background: #eef1f4; }
.count b { margin-left: 4px; }
.state-done { background: #d8f3dc; } .state-error { background: #ffd6d6; } .state-todo { background: #e7ecf5; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #eef1f4; vertical-align: top; }
td.msg { font-family: ui-monospace, monospace; white-space: pre-wrap; word-break: break-word; }
td.msg pre.stderr { margin: 0.3em 0 0; padding: 0.3em 0.5em; background: #f6f1f1; color: #6b1d1d; white-space: pre-wrap; }
td a { margin-right: 6px; }
.muted { color: #6b7685; }
.controls { display: flex; gap: 10px; align-items: center; margin-bottom: 6px; }
.error { color: #9d0208; background: #ffe5e5; padding: 8px; border-radius: 4px; }
`;

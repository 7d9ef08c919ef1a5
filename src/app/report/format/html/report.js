
// statuscheck's report: sorts the table by a clicked header and filters its
// rows by text and state. The rows come worst first (those not up, then
// those up, each in the order the results came), and without JavaScript
// the table reads the same, unsorted and unfiltered. The filter and the sort are kept for this tab
// (sessionStorage), so a --watch page that reloads itself keeps them.
(function () {
  'use strict';
  var table = document.getElementById('results');
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById('filter');
  var state = document.getElementById('state');
  var shown = document.getElementById('shown');
  var texts = null;
  var sorted = { col: -1, dir: 1 };

  function textOf(i) {
    if (!texts) texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    return texts[i];
  }

  function apply() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    var wanted = state.value;
    var n = 0;
    rows.forEach(function (row, i) {
      var visible = (!wanted || row.getAttribute('data-state') === wanted) &&
        words.every(function (word) { return textOf(i).indexOf(word) >= 0; });
      if (row.hidden === visible) row.hidden = !visible;
      if (visible) n++;
    });
    shown.textContent = n + ' of ' + rows.length + ' rows';
    save();
  }

  // A cell's sort key: its data-v as a number (empty: none, sorted last), else its text.
  function key(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute('data-v');
    if (v !== null) return v === '' ? null : Number(v);
    return cell.textContent.toLowerCase();
  }

  function sortBy(col, dir) {
    var keyed = rows.map(function (row, i) { return [key(row, col), i, row]; });
    keyed.sort(function (a, b) {
      if (a[0] === b[0]) return a[1] - b[1];
      if (a[0] === null) return 1;
      if (b[0] === null) return -1;
      var order = typeof a[0] === 'number' ? a[0] - b[0] : a[0].localeCompare(b[0]);
      return order === 0 ? a[1] - b[1] : order * dir;
    });
    var fragment = document.createDocumentFragment();
    rows = keyed.map(function (k) { fragment.appendChild(k[2]); return k[2]; });
    body.appendChild(fragment);
    texts = null;
    sorted = { col: col, dir: dir };
    heads.forEach(function (th, i) {
      if (i === col) th.setAttribute('aria-sort', dir > 0 ? 'ascending' : 'descending');
      else th.removeAttribute('aria-sort');
    });
    save();
  }

  function save() {
    try {
      sessionStorage.setItem('statuscheck', JSON.stringify({ q: filter.value, s: state.value, c: sorted.col, d: sorted.dir }));
    } catch (e) { /* storage off: nothing kept */ }
  }

  function restore() {
    try {
      var kept = JSON.parse(sessionStorage.getItem('statuscheck') || 'null');
      if (!kept) return;
      filter.value = kept.q || '';
      state.value = kept.s || '';
      if (kept.c >= 0 && kept.c < heads.length) sortBy(kept.c, kept.d < 0 ? -1 : 1);
    } catch (e) { /* nothing kept */ }
  }

  heads.forEach(function (th, col) {
    var button = document.createElement('button');
    button.type = 'button';
    button.textContent = th.textContent;
    button.title = 'Sort by ' + th.textContent;
    th.textContent = '';
    th.appendChild(button);
    button.addEventListener('click', function () {
      sortBy(col, sorted.col === col ? -sorted.dir : 1);
    });
  });
  filter.addEventListener('input', apply);
  state.addEventListener('change', apply);
  document.getElementById('controls').hidden = false;
  restore();
  apply();
})();

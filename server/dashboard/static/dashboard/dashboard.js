/* Cradle dashboard: sortable tables, the indicator list that follows the programme, and
   live progress of a sync run. No library; works in any current browser. */
(function () {
  "use strict";

  // -- sortable tables: click a header; numbers by data-sort (empty last), text by locale
  function cellValue(row, index, numeric) {
    var cell = row.children[index];
    if (!cell) return numeric ? null : "";
    var raw = cell.hasAttribute("data-sort") ? cell.getAttribute("data-sort") : cell.textContent;
    if (!numeric) return raw.trim();
    var n = parseFloat(raw.replace(/[^0-9.eE+-]/g, ""));
    return isNaN(n) ? null : n;
  }

  function sortBy(table, th) {
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var numeric = th.getAttribute("data-type") === "number";
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var collator = new Intl.Collator(document.documentElement.lang || undefined, { numeric: true });
    rows.sort(function (a, b) {
      var x = cellValue(a, index, numeric), y = cellValue(b, index, numeric);
      if (numeric) {
        if (x === null && y === null) return 0;
        if (x === null) return 1;  // missing values last, whichever the direction
        if (y === null) return -1;
        return ascending ? x - y : y - x;
      }
      return ascending ? collator.compare(x, y) : collator.compare(y, x);
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    table.tHead.querySelectorAll("th").forEach(function (th) {
      th.tabIndex = 0;
      th.addEventListener("click", function () { sortBy(table, th); });
      th.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(table, th); }
      });
    });
  });

  // -- coverage filters: only the chosen programme's indicators
  var programme = document.getElementById("id_programme");
  var indicator = document.getElementById("id_indicator");
  function filterIndicators() {
    var wanted = programme.value, firstVisible = null, selectedVisible = false;
    Array.prototype.forEach.call(indicator.options, function (o) {
      var show = o.getAttribute("data-programme") === wanted;
      o.hidden = !show; o.disabled = !show;
      if (show && !firstVisible) firstVisible = o;
      if (show && o.selected) selectedVisible = true;
    });
    if (!selectedVisible && firstVisible) firstVisible.selected = true;
  }
  if (programme && indicator) {
    filterIndicators();
    programme.addEventListener("change", filterIndicators);
  }

  // -- sync: follow a run through GET /api/syncs/<id> until it ends
  var panel = document.getElementById("run-progress");
  if (panel && panel.getAttribute("data-status") === "running") {
    var url = panel.getAttribute("data-url");
    var statusEl = panel.querySelector("[data-field=status]");
    var bar = panel.querySelector(".progress");
    var tries = 0;
    var poll = function () {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (run) {
          tries = 0;
          var counts = run.counts || {};
          Object.keys(counts).forEach(function (k) {
            var el = panel.querySelector("[data-count=" + k + "]");
            if (el) el.textContent = counts[k];
          });
          var written = panel.querySelector("[data-field=written]");
          if (written) written.textContent = run.written != null ? run.written : "";
          var total = panel.querySelector("[data-field=total]");
          if (total) total.textContent = run.total != null ? run.total : "?";
          if (bar) {
            var fill = bar.firstElementChild;
            if (run.total) {
              bar.classList.remove("indeterminate");
              fill.style.width = Math.min(100, Math.round(100 * (run.written || 0) / run.total)) + "%";
            }
          }
          if (run.status && run.status !== "running") {
            panel.setAttribute("data-status", run.status);
            statusEl.textContent = panel.getAttribute("data-label-" + run.status) || run.status;
            statusEl.className = "status-" + run.status;
            if (bar) { bar.classList.remove("indeterminate"); bar.firstElementChild.style.width = "100%"; }
            if (run.error) {
              var err = panel.querySelector("[data-field=error]");
              if (err) { err.textContent = run.error; err.hidden = false; }
            }
            window.setTimeout(function () { window.location.reload(); }, 800);
            return;
          }
          window.setTimeout(poll, 700);
        })
        .catch(function () {
          tries += 1;
          window.setTimeout(poll, Math.min(10000, 700 * Math.pow(2, tries)));
        });
    };
    poll();
  }

  // -- a button that starts work shows it is busy and cannot be pressed twice
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    });
  });
})();

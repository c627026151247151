/* List pages: the Export menu (the whole list or the rows ticked) and "all records matching" in the
 * bulk bar (CSP: no inline script).
 * The list's filters, sort and page change through htmx without reloading the page; the address bar
 * follows them (hx-push-url), so both read the list's current query from location.search on submit. */
(function () {
  "use strict";

  function currentQuery() {
    return window.location.search.replace(/^\?/, "");
  }

  function rowBoxes() {
    return Array.prototype.slice.call(document.querySelectorAll('input[type=checkbox][name=pk][form="bulk-form"]'));
  }

  /* Offer "all matching" once every row of the page is selected; drop it when one is unticked. */
  function updateMatching() {
    var wrapper = document.querySelector("[data-bulk-matching]");
    if (!wrapper) { return; }
    var boxes = rowBoxes();
    var all = boxes.length > 0 && boxes.every(function (box) { return box.checked; });
    var matching = wrapper.querySelector("[data-bulk-matching-box]");
    wrapper.classList.toggle("d-none", !all);
    if (!all && matching) { matching.checked = false; }
    var submit = document.querySelector("[data-bulk-submit]");
    if (submit && matching && matching.checked) { submit.disabled = false; }
  }

  function checkedIds() {
    var matching = document.querySelector("[data-bulk-matching-box]");
    if (matching && matching.checked) { return []; }  /* "all matching": the whole list */
    return rowBoxes().filter(function (box) { return box.checked; }).map(function (box) { return box.value; });
  }

  /* The Export menu's "only the selected rows": offered while rows are ticked, and chosen when the
   * first is, since ticking rows and then exporting means exporting those. */
  function updateExportRows() {
    var selected = document.querySelector("[data-export-rows-selected]");
    var all = document.querySelector("[data-export-rows-all]");
    if (!selected || !all) { return; }
    var count = checkedIds().length;
    var label = document.querySelector("[data-export-selected-label]");
    if (label) {
      label.textContent = count ? label.dataset.templateSome.replace("%(count)s", count) : label.dataset.templateNone;
    }
    if (count && selected.disabled) { selected.checked = true; }
    selected.disabled = !count;
    if (!count) { all.checked = true; }
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    if (!target.matches) { return; }
    if (target.matches("[data-select-all]") || target.matches('input[name=pk][form="bulk-form"]') ||
        target.matches("[data-bulk-matching-box]")) {
      window.setTimeout(function () { updateMatching(); updateExportRows(); }, 0);  /* after guanxi.js */
    }
  });

  document.body && document.body.addEventListener("htmx:afterSwap", function () { updateMatching(); updateExportRows(); });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement)) { return; }
    if (form.matches("[data-export-form]")) {
      var query = form.querySelector("[data-export-query]");
      if (query) { query.value = currentQuery(); }
      Array.prototype.forEach.call(form.querySelectorAll("input[data-export-id]"), function (old) { old.remove(); });
      var rows = form.querySelector("[data-export-rows-selected]");
      if (rows && rows.checked) {
        checkedIds().forEach(function (id) {
          var input = document.createElement("input");
          input.type = "hidden";
          input.name = "ids";
          input.value = id;
          input.setAttribute("data-export-id", "");
          form.appendChild(input);
        });
      }
    } else if (form.id === "bulk-form") {
      var bulkQuery = form.querySelector("[data-bulk-query]");
      if (bulkQuery) { bulkQuery.value = currentQuery(); }
    }
  });
})();
